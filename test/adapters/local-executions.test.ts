import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';

describe('LocalExecutions', () => {
  it('starts a name once, even when asked for it many times at once', async () => {
    const executions = new LocalExecutions(await mkdtemp(join(tmpdir(), 'pipeline-executions-')));
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => executions.start('inbox-a-1', { inputs: ['inbox/a'] })),
    );
    expect(answers.filter((a) => a.started)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.executionArn))).toEqual(new Set(['local:execution:inbox-a-1']));
    expect((await executions.list()).map((e) => [e.name, e.input])).toEqual([
      ['inbox-a-1', { inputs: ['inbox/a'] }],
    ]);
  });
});
