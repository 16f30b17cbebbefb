import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';
import { ResourceRegistry } from '../../src/local/sagemaker/registry.ts';
import type { LocalSweepResult } from '../../src/local/sweep.ts';
import { pipeline } from '../support/cli.ts';

// `pipeline sweep` over a data dir laid out as stopped and crashed runs leave one; the runs themselves
// are in test/faults/pipeline.test.ts.

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);

/** A data dir with what an old crashed run, a young one and a running one left behind. */
async function leftBehind(): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pipeline-sweep-'));
  const registry = new ResourceRegistry(dataDir);
  await registry.add('model', 'old', hoursAgo(30));
  await registry.add('model', 'young', hoursAgo(1));
  await registry.add('model', 'running', hoursAgo(30));
  const executions = new LocalExecutions(dataDir);
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  for (const [name, pid] of [
    ['old', dead],
    ['running', process.pid],
  ] as const) {
    await executions.start(name, {});
    await executions.update(name, { status: 'RUNNING', pid });
  }
  for (const job of ['old', 'running']) {
    const folder = join(dataDir, 'work', job, 'shards', '0');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, '0.jsonl'), '[1]\n');
    await utimes(join(folder, '0.jsonl'), hoursAgo(30), hoursAgo(30));
  }
  await mkdir(join(dataDir, 'results', 'old'), { recursive: true });
  await writeFile(join(dataDir, 'results', 'old', `a.jsonl.out.${dead}.1.partial`), 'half');
  return dataDir;
}

describe('pipeline sweep', () => {
  it('lists what no running execution owns past the grace period, and deletes only with --delete', async () => {
    const dataDir = await leftBehind();
    const dryRun = await pipeline('sweep', '--data-dir', dataDir, '--json');
    expect(dryRun.code).toBe(0);
    const found = JSON.parse(dryRun.stdout) as LocalSweepResult;
    expect(found.sageMaker.wouldDelete.map((r) => r.name)).toEqual(['old']);
    expect(found.sageMaker.kept.map((k) => [k.resource.name, k.reason])).toEqual([
      ['running', 'its execution is still running'],
      ['young', 'younger than 6 hours'],
    ]);
    expect(found.work.wouldDelete.map((f) => f.jobId)).toEqual(['old']);
    expect(found.temporaries.wouldDelete.map((t) => t.path)).toEqual([
      expect.stringMatching(/^results\/old\/a\.jsonl\.out\.\d+\.1\.partial$/),
    ]);
    expect(new ResourceRegistry(dataDir).names('model')).toEqual(['old', 'running', 'young']);

    const swept = await pipeline('sweep', '--data-dir', dataDir, '--delete');
    expect(swept.code).toBe(0);
    expect(swept.stdout).toContain('deleted model old (created ');
    expect(swept.stdout).toContain('deleted work/old/ (1 object)');
    expect(swept.stdout).toContain('kept work/running/: its execution is still running');
    expect(new ResourceRegistry(dataDir).names('model')).toEqual(['running', 'young']);
    expect((await pipeline('sweep', '--data-dir', dataDir)).stdout).toMatch(/^kept model running/);
  });

  it('says when there is nothing to sweep', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pipeline-sweep-'));
    expect(await pipeline('sweep', '--data-dir', dataDir)).toEqual({
      code: 0,
      stdout: `Nothing to sweep in ${dataDir}\n`,
      stderr: '',
    });
  });

  it('explains itself with --help, and exits 2 on a bad flag or argument', async () => {
    const help = await pipeline('sweep', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^pipeline sweep \[options\]: /);
    expect(help.stdout).toContain('--older-than-hours N');
    expect(await pipeline('sweep', '--older-than-hours', 'soon')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--older-than-hours must be a number of hours'),
    });
    expect((await pipeline('sweep', 'job-1')).code).toBe(2);
    expect((await pipeline('sweep', '--force')).code).toBe(2);
  });
});
