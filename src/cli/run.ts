import { randomBytes } from 'node:crypto';
import { copyFile, cp, link, mkdir, mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { wasInterrupted } from '../adapters/local-executions.ts';
import type { JobSummary } from '../core/steps/finish.ts';
import { inputName } from '../core/steps/layout.ts';
import { MARKS } from '../local/marks.ts';
import { LocalStack } from '../local/stack.ts';
import { UsageError } from './errors.ts';
import { commandLineJob, type JobOptions, localJob } from './job.ts';
import { Progress } from './progress.ts';
import { describeTimings } from './timings.ts';
import type { Output } from './usage.ts';

export interface RunCommand extends JobOptions {
  readonly files: readonly string[];
  /** Where the results are copied: DIR/<file name>.out, DIR/_errors.jsonl, DIR/_summary.json. */
  readonly out?: string;
  /** The folder playing the bucket; a fresh temporary one, removed afterwards, when not given. */
  readonly dataDir?: string;
  readonly json: boolean;
  /** Print where the time went, once the job has ended. */
  readonly timings?: boolean;
}

/** What `--json` prints last: the job's summary, or why the job failed before it had one. */
export type RunReport =
  | JobSummary
  | { jobId: string; status: 'Failed'; error: { name: string; message: string } };

/**
 * `pipeline run`: the whole pipeline on the given files, on this machine, to its end. Exit status 0
 * when the job Succeeded, 1 when it Failed, 2 (a UsageError) when it cannot start.
 */
export async function runCommand(command: RunCommand, output: Output): Promise<number> {
  performance.mark(MARKS.command);
  const names = new Set<string>();
  for (const file of command.files) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`input ${file} is not a file`);
    if (names.has(basename(file)))
      throw new UsageError(`two inputs are named ${basename(file)}: results are named after the file`);
    names.add(basename(file));
  }
  const job = await commandLineJob(command);
  const dataDir = command.dataDir ? resolve(command.dataDir) : await mkdtemp(join(tmpdir(), 'pipeline-'));
  const progress = new Progress({ write: output.stderr, interactive: output.interactive });
  const stack = new LocalStack({
    dataDir,
    ...(command.modelUrl !== undefined && { modelUrl: command.modelUrl }),
    onTransformProgress: (event) => progress.onRecords(event.records),
  });
  try {
    await localJob(stack.store, dataDir, job);

    const inputs: string[] = [];
    for (const file of command.files) {
      const key = `inbox/${basename(file)}`;
      await place(resolve(file), join(dataDir, key));
      inputs.push(key);
    }
    const input = { inputs, job };
    // The same run, interrupted in this data dir, is run again under its id.
    const interrupted = (await stack.executions.list()).find(
      (execution) => wasInterrupted(execution) && JSON.stringify(execution.input) === JSON.stringify(input),
    );
    const jobId = interrupted?.name ?? newJobId('run');
    const out = command.out ? resolve(command.out) : command.dataDir ? undefined : resolve('results', jobId);
    const code = await executeJob(
      stack,
      jobId,
      input,
      { json: command.json, out, progress, resuming: interrupted !== undefined },
      output,
    );
    if (command.timings) {
      performance.mark(MARKS.done);
      output.stderr(describeTimings());
    }
    return code;
  } finally {
    progress.finish();
    await stack.close();
    if (!command.dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** A job id that sorts by time: `<kind>-YYYYMMDD-HHMMSS-<random>`. */
export function newJobId(kind: string): string {
  const time = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${kind}-${time}-${randomBytes(3).toString('hex')}`;
}

/**
 * Queues the job (or finds it queued, when `resuming` one that was interrupted), runs it to its end with
 * progress on stderr, copies its results to `out` when asked, and reports: a line for people on stderr,
 * the summary as the last stdout line with `--json`. The exit status: 0 when the job Succeeded, 1
 * otherwise.
 */
export async function executeJob(
  stack: LocalStack,
  jobId: string,
  input: Record<string, unknown>,
  options: { json: boolean; out: string | undefined; progress: Progress; resuming: boolean },
  output: Output,
): Promise<number> {
  const { progress } = options;
  const inputs = (input.inputs as unknown[]).length;
  const again = options.resuming ? ', interrupted before: run again from the start' : '';
  output.stderr(`Job ${jobId}: ${inputs} input${inputs === 1 ? '' : 's'}${again}\n`);
  const outcome = await stack.execute(jobId, { input, onEvent: (event) => progress.onEvent(event) });
  progress.finish();

  const resultsDir = join(stack.store.root, 'results', jobId);
  const out = options.out ?? resultsDir;
  const summary = await readSummary(join(resultsDir, '_summary.json'));
  if (out !== resultsDir && (await exists(resultsDir))) await cp(resultsDir, out, { recursive: true });

  let report: RunReport;
  if (summary) {
    report = summary;
    const { records } = summary;
    output.stderr(
      `${summary.status}: ${records.in} records in, ${records.out} scored, ${records.errors} quarantined` +
        `${summary.reason ? ` (${summary.reason})` : ''}\nResults in ${out}\n`,
    );
  } else {
    const error = outcome.status === 'FAILED' ? outcome.error : { name: 'Aborted', message: 'stopped' };
    report = { jobId, status: 'Failed', error };
    output.stderr(`Failed: ${error.name}: ${error.message}${shardsNamed(error.message, jobId, input)}\n`);
  }
  if (options.json) output.stdout(`${JSON.stringify(report)}\n`);
  return outcome.status === 'SUCCEEDED' && report.status === 'Succeeded' ? 0 : 1;
}

/**
 * A transform failure names the shard SageMaker read (`work/<jobId>/shards/<input>/<n>.<ext>`); users
 * know their files, so the input each named shard was cut from is added.
 */
function shardsNamed(message: string, jobId: string, input: Record<string, unknown>): string {
  const inputs = input.inputs as string[];
  const named = new Set<string>();
  for (const match of message.matchAll(new RegExp(`work/${jobId}/shards/(\\d+)/(\\d+)\\.`, 'g'))) {
    const key = inputs[Number(match[1])];
    if (key !== undefined) named.add(`shard ${match[2]} of ${inputName(key)}`);
  }
  return named.size > 0 ? ` (${[...named].join(', ')})` : '';
}

/** The input as an object of the local bucket: a hard link where possible, a copy otherwise. */
async function place(file: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  await unlink(target).catch(() => undefined);
  await link(file, target).catch(() => copyFile(file, target));
}

async function readSummary(path: string): Promise<JobSummary | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JobSummary;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
