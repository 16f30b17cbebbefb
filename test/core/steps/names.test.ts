import { describe, expect, it } from 'vitest';
import { sageMakerName } from '../../../src/core/steps/names.ts';

describe('sageMakerName', () => {
  it('keeps names SageMaker accepts and makes the others fit its pattern and 63 characters, uniquely', () => {
    expect(sageMakerName('inbox-a-1')).toBe('inbox-a-1');
    expect(sageMakerName('inbox/a b_c.jsonl')).toBe('inbox-a-b-c-jsonl');
    const long = sageMakerName(`inbox-${'x'.repeat(80)}-1`);
    const other = sageMakerName(`inbox-${'x'.repeat(80)}-2`);
    expect(long).toMatch(/^[A-Za-z0-9](-?[A-Za-z0-9]){0,62}$/);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(other);
  });
});
