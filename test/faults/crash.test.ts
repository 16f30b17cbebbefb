import './support/quiet.ts';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';
import type { JobSummary } from '../../src/core/steps/finish.ts';
import type { JobRecord } from '../../src/core/steps/job-record.ts';
import { startLocalService } from '../../src/local/service.ts';
import { UpProcess } from '../support/up-process.ts';
import { entriesBelow, leftovers, NOTHING_LEFT, waitFor } from './support/harness.ts';

// `pipeline up` killed with SIGKILL again and again while it scores 30 files with the bundled iris
// model, and started again each time: in the end every file is scored once, as a run that was never
// killed scores it. The moments come from its log (a job entering Plan, Shard, the transform, Merge)
// and from the files the step is writing.

const root = fileURLToPath(new URL('../../', import.meta.url));
const iris = (await readFile(join(root, 'samples/iris.jsonl'), 'utf8')).trim().split('\n');
const spec = {
  model: join(root, 'samples/models/iris'),
  dataProcessing: {
    inputFilter: '$.features',
    joinSource: 'Input',
    outputFilter: "$['id','SageMakerOutput']",
  },
};

interface InputFile {
  readonly name: string;
  readonly text: string;
  readonly good: number;
  readonly bad: number;
}

/** `count` iris flowers numbered from 1, and `bad` lines that cannot be read among them. */
function flowers(name: string, count: number, bad = 0): InputFile {
  const rows = Array.from({ length: count }, (_, k) => {
    const flower = JSON.parse(iris[k % iris.length] ?? '{}') as Record<string, unknown>;
    return JSON.stringify({ ...flower, id: k + 1 });
  });
  for (let k = 0; k < bad; k++) rows.splice(7 * (k + 1), 0, '{"id": "broken", "features": [5.1,');
  return { name, text: `${rows.join('\n')}\n`, good: count, bad };
}

// Three large enough for a job to be well inside a step when it is killed (Shard, the transform and
// Merge take a second or more each on them), and 27 small ones, every fifth with a line in error.
const FILES: InputFile[] = [
  ...[1, 2, 3].map((n) => flowers(`big-${n}.jsonl`, 150_000)),
  ...Array.from({ length: 27 }, (_, n) =>
    flowers(`small-${String(n).padStart(2, '0')}.jsonl`, 150 * ((n % 9) + 1), n % 5 === 0 ? 1 : 0),
  ),
];

async function dataDirWith(dir: string): Promise<string> {
  await mkdir(join(dir, 'config'), { recursive: true });
  await mkdir(join(dir, 'inbox'), { recursive: true });
  await writeFile(join(dir, 'config', 'default-job.json'), JSON.stringify(spec));
  return dir;
}

/** Each file appears in the inbox whole, as a move within one file system makes it appear. */
async function drop(dataDir: string, staging: string, files: readonly InputFile[]): Promise<void> {
  for (const file of files) await rename(join(staging, file.name), join(dataDir, 'inbox', file.name));
}

interface Scored {
  readonly jobId: string;
  readonly summary: JobSummary | undefined;
}

/** Every job of the data dir by the inbox file it scored, with its summary once it has one. */
async function jobsByFile(dataDir: string): Promise<Map<string, Scored[]>> {
  const byFile = new Map<string, Scored[]>();
  for (const jobId of await readdir(join(dataDir, 'results')).catch(() => [] as string[])) {
    const read = (file: string) => readFile(join(dataDir, 'results', jobId, file), 'utf8').catch(() => '');
    const record = await read('_job.json');
    if (!record) continue;
    const summary = await read('_summary.json');
    for (const input of (JSON.parse(record) as JobRecord).inputs) {
      const jobs = byFile.get(input) ?? [];
      jobs.push({ jobId, summary: summary ? (JSON.parse(summary) as JobSummary) : undefined });
      byFile.set(input, jobs);
    }
  }
  return byFile;
}

async function allScored(dataDir: string): Promise<Map<string, Scored[]> | undefined> {
  const byFile = await jobsByFile(dataDir);
  const done = [...byFile.values()].filter((jobs) => jobs.some((job) => job.summary !== undefined));
  return done.length === FILES.length ? byFile : undefined;
}

/**
 * Waits until a file is half-written below `folder` (its temporary, `*.partial`, is there), or until
 * `over`: the step has ended (the big files' steps take a second or more, so this is seldom the case).
 */
async function writingBelow(folder: string, over: Promise<unknown>): Promise<void> {
  let ended = false;
  over.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  while (!ended && !(await entriesBelow(folder)).some((path) => path.endsWith('.partial'))) await sleep(5);
}

/** The SHA-256 of a job's output for the file and of its errors. */
async function results(dataDir: string, jobId: string, file: string): Promise<string[]> {
  const folder = join(dataDir, 'results', jobId);
  const digests = [];
  for (const name of [`${file}.out`, '_errors.jsonl']) {
    digests.push(
      createHash('sha256')
        .update(await readFile(join(folder, name)))
        .digest('hex'),
    );
  }
  return digests;
}

describe('pipeline up killed with SIGKILL during each step and started again', () => {
  it('scores every file exactly once, with the counts and bytes of a run never killed, and leaves nothing', async () => {
    // Prepare: the files, and the results of an uninterrupted service over the same files.
    const dir = await mkdtemp(join(tmpdir(), 'faults-crash-'));
    const staging = join(dir, 'staging');
    await mkdir(staging);
    for (const file of FILES) await writeFile(join(staging, file.name), file.text);
    const reference = await dataDirWith(join(dir, 'reference'));
    for (const file of FILES) await writeFile(join(reference, 'inbox', file.name), file.text);
    const service = await startLocalService({
      dataDir: reference,
      port: 0,
      secret: 'a-local-webhook-secret',
      pollMs: 50,
      settleMs: 200,
      sidecarSeconds: 0,
    });
    const expected = await waitFor('the uninterrupted run', () => allScored(reference), 240);
    await service.close();

    // Act: twenty files, then a kill at the first Plan; the other ten arrive while it is down.
    const dataDir = await dataDirWith(join(dir, 'killed'));
    const start = () => new UpProcess(dataDir, ['--settle-seconds', '0']);
    await drop(dataDir, staging, FILES.slice(0, 20));
    const runs: UpProcess[] = [];
    const killed: string[] = [];
    // Each step, the step after it, and where it writes (none for Plan, over in a moment).
    const moments = [
      { step: 'Plan', next: 'ShardInputs', writes: undefined },
      { step: 'ShardInputs', next: 'Route', writes: (job: string) => `work/${job}/shards` },
      { step: 'Transform', next: 'MergeOutputs', writes: (job: string) => `work/${job}/outputs` },
      { step: 'MergeOutputs', next: 'Finish', writes: (job: string) => `results/${job}` },
    ];
    for (const { step, next, writes } of moments) {
      const run = start();
      runs.push(run);
      const entered = new RegExp(` (inbox-${step === 'Plan' ? '' : 'big-'}\\S+): ${step}$`);
      const job = entered.exec(await run.line(entered))?.[1] ?? '';
      if (writes) await writingBelow(join(dataDir, writes(job)), run.line(new RegExp(`${job}: ${next}$`)));
      await run.stop('SIGKILL');
      killed.push(job);
      if (step === 'ShardInputs') await drop(dataDir, staging, FILES.slice(20));
    }
    const last = start();
    runs.push(last);
    const scored = await waitFor('every file scored', () => allScored(dataDir), 240);
    expect(await last.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // Assess: each killed job was resumed under its id by the next start.
    for (const [k, job] of killed.entries()) {
      expect(runs[k + 1]?.log).toContain(
        `${job}: resumed from the start (process ${runs[k]?.child.pid} ended`,
      );
    }
    // One job, and one execution, per file: Succeeded, its counts exact, its results those of the run never killed.
    const executions = await new LocalExecutions(dataDir).list();
    expect(executions.map((execution) => execution.status)).toEqual(Array(FILES.length).fill('SUCCEEDED'));
    for (const file of FILES) {
      const key = `inbox/${file.name}`;
      const jobs = scored.get(key) ?? [];
      expect(jobs, key).toHaveLength(1);
      const [job] = jobs;
      expect(job?.summary, key).toMatchObject({
        status: 'Succeeded',
        records: { in: file.good + file.bad, out: file.good, errors: file.bad },
      });
      const [uninterrupted] = expected.get(key) ?? [];
      expect(await results(dataDir, job?.jobId ?? '', file.name), key).toEqual(
        await results(reference, uninterrupted?.jobId ?? '', file.name),
      );
    }
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    expect((await entriesBelow(dataDir)).filter((path) => /\.(lock|takeover)$/.test(path))).toEqual([]);
  }, 300_000);
});
