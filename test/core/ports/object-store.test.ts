import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys } from '../../../src/core/ports/object-store.ts';

describe('compareKeys', () => {
  it('orders keys by their UTF-8 bytes, as S3 lists them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 5_000 },
    );
  });

  it('puts a character past U+FFFF after U+E000-U+FFFF, where UTF-16 order puts it before', () => {
    const keys = ['a/\u{1F600}.jsonl', 'a/\u{E000}.jsonl', 'a/\u{FFFD}.jsonl', 'a/z.jsonl'];
    expect([...keys].sort(compareKeys)).toEqual([
      'a/z.jsonl',
      'a/\u{E000}.jsonl',
      'a/\u{FFFD}.jsonl',
      'a/\u{1F600}.jsonl',
    ]);
  });
});
