import { spawnSync } from 'node:child_process';
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

  it('counts as running only what runs in a live process', async () => {
    const executions = new LocalExecutions(await mkdtemp(join(tmpdir(), 'pipeline-executions-')));
    // A process that has ended: its id is not reused this soon.
    const ended = spawnSync(process.execPath, ['-e', '']).pid;
    for (const name of ['queued', 'here', 'gone', 'done']) await executions.start(name, {});
    await executions.update('here', { status: 'RUNNING', pid: process.pid });
    await executions.update('gone', { status: 'RUNNING', pid: ended });
    await executions.update('done', { status: 'SUCCEEDED', pid: process.pid });
    expect(await executions.running()).toEqual(['here']);
  });
});
