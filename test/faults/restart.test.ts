import './support/quiet.ts';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../src/cli/jobs.ts';
import { pipelineProcess, UpProcess } from '../support/up-process.ts';
import { ScriptedContainer } from './support/container.ts';
import { entriesBelow, leftovers, NOTHING_LEFT, pipeline, waitFor } from './support/harness.ts';

// `pipeline up`, `pipeline run` and `pipeline rerun` stopped and started again over one data dir, as
// child processes sent real signals: the data dir's lock, a graceful stop, and interrupted jobs run
// again. The model is a container in this process (see container.ts), told when to answer.

let container: ScriptedContainer;
let dir = '';

beforeAll(async () => {
  container = await ScriptedContainer.start();
  dir = await mkdtemp(join(tmpdir(), 'faults-restart-'));
});

afterAll(async () => {
  await container.close();
});

beforeEach(() => {
  container.script = () => 'ok';
});

const spec = { model: 'served-elsewhere', dataProcessing: { inputFilter: '$.features' } };

/** `count` records whose first feature starts at `from` + 1: the container can tell jobs apart by it. */
function records(count: number, from: number): string {
  return Array.from({ length: count }, (_, k) => `{"id":${k + 1},"features":[${from + k + 1},0.5]}\n`).join(
    '',
  );
}

/** A data dir for pipeline up whose jobs are scored by the container. */
async function upDataDir(name: string): Promise<string> {
  const dataDir = join(dir, name);
  await mkdir(join(dataDir, 'config'), { recursive: true });
  await mkdir(join(dataDir, 'inbox'), { recursive: true });
  await writeFile(join(dataDir, 'config', 'default-job.json'), JSON.stringify(spec));
  return dataDir;
}

function up(dataDir: string, ...args: string[]): UpProcess {
  return new UpProcess(dataDir, ['--model-url', container.url, '--settle-seconds', '0', ...args], {
    PIPELINE_WEBHOOK_SECRET: 'a-local-webhook-secret',
  });
}

async function statuses(dataDir: string): Promise<JobStatus[]> {
  return JSON.parse((await pipeline('status', '--data-dir', dataDir, '--json')).stdout) as JobStatus[];
}

/** What is left that no finished job should leave: models, work files, half-written files, locks. */
async function leftBehind(dataDir: string) {
  const locks = (await entriesBelow(dataDir)).filter((path) => /\.(lock|takeover)$/.test(path));
  return { ...(await leftovers(dataDir)), locks };
}

const NOTHING_LEFT_BEHIND = { ...NOTHING_LEFT, locks: [] };

describe('the data dir of pipeline up', () => {
  it('is refused to a second pipeline up, naming the process that has it, until that one stops', async () => {
    const dataDir = await upDataDir('locked');
    const first = up(dataDir);
    await first.url;

    const second = up(dataDir);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.log).toContain(`${dataDir} is in use by pipeline up (pid ${first.child.pid})`);

    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const third = up(dataDir);
    await third.url;
    expect(await third.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await leftBehind(dataDir)).toEqual(NOTHING_LEFT_BEHIND);
  });

  it('goes to exactly one of two pipeline up started at once', async () => {
    const dataDir = await upDataDir('race');
    const both = [up(dataDir), up(dataDir)];
    const started = await Promise.allSettled(both.map((process) => process.url));
    const winner = both.find((_, k) => started[k]?.status === 'fulfilled');
    const loser = both.find((_, k) => started[k]?.status === 'rejected');
    expect(started.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await loser?.exited).toEqual({ code: 1, signal: null });
    expect(loser?.log).toContain(`is in use by pipeline up (pid ${winner?.child.pid})`);
    await winner?.stop('SIGTERM');
  });

  it('is taken over from a pipeline up that has ended, even when its pid is now another process', async () => {
    const dataDir = await upDataDir('stale');
    const ended = spawnSync(process.execPath, ['-e', '']).pid;
    for (const holder of [{ pid: ended }, { pid: process.pid, start: 'when another process started' }]) {
      await writeFile(join(dataDir, 'up.lock'), JSON.stringify(holder));
      const next = up(dataDir);
      await next.url;
      expect(JSON.parse(await readFile(join(dataDir, 'up.lock'), 'utf8'))).toMatchObject({
        pid: next.child.pid,
      });
      expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    }
    expect(await leftBehind(dataDir)).toEqual(NOTHING_LEFT_BEHIND);
  });
});

describe('pipeline up stopped by SIGTERM', () => {
  it('lets a running job end, and leaves one over the grace period to the next start, which resumes it', async () => {
    // Prepare: the quick job's request is answered once told to, the slow job's never.
    const dataDir = await upDataDir('graceful');
    let answerQuick = (): void => undefined;
    const quickAnswered = new Promise<void>((resolve) => {
      answerQuick = resolve;
    });
    container.script = (invocation) =>
      ((invocation.instances[0] as number[])[0] ?? 0) > 2000 ? 'hang' : { after: quickAnswered };
    const first = up(dataDir, '--grace-seconds', '10');
    await first.url;
    await writeFile(join(dataDir, 'inbox', 'quick.jsonl'), records(5, 1000));
    await writeFile(join(dataDir, 'inbox', 'slow.jsonl'), records(5, 2000));
    await waitFor('both jobs to be scoring', async () =>
      container.invocations.length >= 2 ? true : undefined,
    );

    // Act
    first.child.kill('SIGTERM');
    await first.line(/stopping: waiting up to 10 s for inbox-/);
    answerQuick();

    // Assess: the quick job ended as usual; the slow one was left, and is resumed on the next start.
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const slowJob = /left to resume on the next start: (inbox-slow-jsonl-\w+)$/.exec(first.log)?.[1];
    expect(slowJob).toBeDefined();
    expect(await statuses(dataDir)).toEqual([
      expect.objectContaining({ jobId: expect.stringMatching(/^inbox-quick-/), status: 'Succeeded' }),
      expect.objectContaining({ jobId: slowJob, status: 'Interrupted' }),
    ]);

    container.script = () => 'ok';
    const second = up(dataDir);
    await second.line(new RegExp(`${slowJob}: resumed from the start \\(process ${first.child.pid} ended`));
    await second.line(new RegExp(`${slowJob}: Succeeded`));
    expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(await statuses(dataDir)).toEqual([
      expect.objectContaining({ status: 'Succeeded', records: { in: 5, out: 5, errors: 0 } }),
      expect.objectContaining({ jobId: slowJob, status: 'Succeeded', records: { in: 5, out: 5, errors: 0 } }),
    ]);
    expect(await leftBehind(dataDir)).toEqual(NOTHING_LEFT_BEHIND);
  });
});

describe('an interrupted pipeline run', () => {
  /** `pipeline run` of `count` records in a child process, killed while the model scores them. */
  async function killedRun(dataDir: string, name: string, count: number) {
    const input = join(dir, `${name}.jsonl`);
    await writeFile(input, records(count, 0));
    const job = join(dir, `${name}.job.json`);
    await writeFile(job, JSON.stringify(spec));
    const args = ['run', input, '--job', job, '--model-url', container.url, '--data-dir', dataDir, '--json'];
    const known = new Set((await statuses(dataDir)).map((job) => job.jobId));
    container.script = () => 'hang';
    const before = container.invocations.length;
    const child = pipelineProcess(args);
    await waitFor('a request', async () => (container.invocations.length > before ? true : undefined));
    child.kill('SIGKILL');
    await once(child, 'exit');
    container.script = () => 'ok';
    const jobId = (await statuses(dataDir)).find((job) => !known.has(job.jobId))?.jobId;
    return { args, jobId };
  }

  it('is run again under its job id when the same command is run again over its data dir', async () => {
    const dataDir = join(dir, 'run-again');
    const { args, jobId } = await killedRun(dataDir, 'again', 20);
    expect(await statuses(dataDir)).toEqual([expect.objectContaining({ jobId, status: 'Interrupted' })]);

    const again = await pipeline(...args);

    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`Job ${jobId}: 1 input, interrupted before: run again from the start`);
    expect(again.report).toMatchObject({
      jobId,
      status: 'Succeeded',
      records: { in: 20, out: 20, errors: 0 },
    });
    expect(await statuses(dataDir)).toEqual([expect.objectContaining({ jobId, status: 'Succeeded' })]);
    expect(await leftBehind(dataDir)).toEqual(NOTHING_LEFT_BEHIND);
  });

  it('is rerun under its own id, or with --new-id under a new one that replaces it', async () => {
    const dataDir = join(dir, 'rerun');
    const first = await killedRun(dataDir, 'first', 7);
    const second = await killedRun(dataDir, 'second', 9);
    const rerun = (...args: string[]) =>
      pipeline('rerun', ...args, '--data-dir', dataDir, '--model-url', container.url, '--json');

    const same = await rerun(first.jobId ?? '');
    const replaced = await rerun(second.jobId ?? '', '--new-id');

    expect(same.report).toMatchObject({ jobId: first.jobId, status: 'Succeeded', records: { in: 7 } });
    expect(replaced.report).toMatchObject({ status: 'Succeeded', rerunOf: second.jobId, records: { in: 9 } });
    const newId = replaced.report?.jobId;
    expect(newId).not.toBe(second.jobId);
    const jobs = await statuses(dataDir);
    expect(jobs).toHaveLength(3);
    expect(jobs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ jobId: first.jobId, status: 'Succeeded' }),
        expect.objectContaining({
          jobId: second.jobId,
          status: 'Failed',
          reason: `Interrupted: replaced by ${newId}`,
        }),
        expect.objectContaining({ jobId: newId, status: 'Succeeded' }),
      ]),
    );
    // Nothing of the replaced job is left, and a service starting over the data dir resumes nothing.
    expect(await readdir(join(dataDir, 'results'))).toEqual([first.jobId, newId].sort());
    expect(await leftBehind(dataDir)).toEqual(NOTHING_LEFT_BEHIND);
    const service = up(dataDir);
    await service.url;
    expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(service.log).not.toMatch(/resuming|resumed/);
  });
});
