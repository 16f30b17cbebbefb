import { randomBytes } from 'node:crypto';
import {
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { wasInterrupted } from '../adapters/local-executions.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { checkInput } from '../core/spec/compile.ts';
import type { JobSummary } from '../core/steps/finish.ts';
import { INBOX } from '../core/steps/layout.ts';
import { listInputs } from '../core/steps/plan.ts';
import { MARKS } from '../local/marks.ts';
import { LocalStack } from '../local/stack.ts';
import { type CommandInput, commandInputs } from './inputs.ts';
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
  const given = await commandInputs(command.files);
  const job = await commandLineJob(command);
  const dataDir = command.dataDir ? resolve(command.dataDir) : await mkdtemp(join(tmpdir(), 'pipeline-'));
  const progress = new Progress({ write: output.stderr, interactive: output.interactive });
  // A temporary data dir is this run's alone: a folder given can be linked there whole, rather than
  // file by file, unless it holds links of its own (the store follows none below a linked folder).
  const named = nameInputs(given, command.dataDir === undefined);
  const stack = new LocalStack({
    dataDir,
    linkedFolders: named.filter(({ linked }) => linked).map(({ key }) => key),
    ...(command.modelUrl !== undefined && { modelUrl: command.modelUrl }),
    onTransformProgress: (event) => progress.onRecords(event.records),
  });
  try {
    const { spec } = await localJob(stack.store, dataDir, job);
    stack.prepareModel(spec.model);
    for (const { files } of given) for (const file of files) checkInput(spec, file.name, file.name);

    await placeInputs(named, dataDir);
    const input = { inputs: named.map(({ key }) => key), job };
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
      {
        json: command.json,
        out,
        progress,
        resuming: interrupted !== undefined,
        files: given.reduce((sum, { files }) => sum + files.length, 0),
        // The temporary data dir goes once the run ends: its results can be moved rather than copied.
        moveResults: command.dataDir === undefined,
      },
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
  options: {
    json: boolean;
    out: string | undefined;
    progress: Progress;
    resuming: boolean;
    /** The input files, when known: a folder input is many. */
    files?: number;
    /** The data dir is about to go: its results may be moved to `out` rather than copied. */
    moveResults?: boolean;
  },
  output: Output,
): Promise<number> {
  const { progress } = options;
  const inputs = options.files ?? (input.inputs as unknown[]).length;
  const again = options.resuming ? ', interrupted before: run again from the start' : '';
  output.stderr(`Job ${jobId}: ${inputs} input${inputs === 1 ? '' : 's'}${again}\n`);
  const outcome = await stack.execute(jobId, { input, onEvent: (event) => progress.onEvent(event) });
  progress.finish();

  const resultsDir = join(stack.store.root, 'results', jobId);
  const out = options.out ?? resultsDir;
  const summary = await readSummary(join(resultsDir, '_summary.json'));
  if (out !== resultsDir && (await exists(resultsDir))) {
    await placeResults(resultsDir, out, options.moveResults === true);
  }

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
    const shards = await shardsNamed(error.message, jobId, input, stack.store);
    output.stderr(`Failed: ${error.name}: ${error.message}${shards}\n`);
  }
  if (options.json) output.stdout(`${JSON.stringify(report)}\n`);
  return outcome.status === 'SUCCEEDED' && report.status === 'Succeeded' ? 0 : 1;
}

/**
 * A transform failure names the shard SageMaker read (`work/<jobId>/shards/<group>/<n>.<ext>`); users
 * know their files, so when the job has one input, the shard is named as part of it. (A shard of a
 * job of many inputs may hold records of several, which only the job's index, deleted by then, knew.)
 */
async function shardsNamed(
  message: string,
  jobId: string,
  input: Record<string, unknown>,
  store: ObjectStore,
): Promise<string> {
  const shards = [...message.matchAll(new RegExp(`work/${jobId}/shards/\\d+/(\\d+)\\.`, 'g'))];
  if (shards.length === 0) return '';
  const names: string[] = [];
  for await (const listed of listInputs(input.inputs as string[], store)) {
    names.push(listed.name);
    if (names.length > 1) return '';
  }
  const [name] = names;
  if (name === undefined) return '';
  return ` (${[...new Set(shards.map((match) => `shard ${match[1]} of ${name}`))].join(', ')})`;
}

/** An input given, and its key in the local bucket. */
interface NamedInput {
  readonly input: CommandInput;
  readonly key: string;
  /** A folder placed as one symbolic link to it, rather than a link to each of its files. */
  readonly linked: boolean;
}

/**
 * The job's inputs naming what was given: a file as `inbox/<name>`, a folder as `inbox/<folder name>/`
 * (made unique in the run), the folder then one input.
 */
function nameInputs(given: readonly CommandInput[], linkFolders: boolean): NamedInput[] {
  const taken = new Set<string>();
  const unique = (name: string): string => {
    let candidate = name;
    for (let n = 2; taken.has(candidate); n++) candidate = `${name}-${n}`;
    taken.add(candidate);
    return candidate;
  };
  return given.flatMap((input): NamedInput[] => {
    if (input.folder !== undefined) {
      const linked = linkFolders && input.followsLinks !== true;
      return [{ input, key: `${INBOX}${unique(input.folder)}/`, linked }];
    }
    const [file] = input.files;
    return file ? [{ input, key: `${INBOX}${unique(file.name)}`, linked: false }] : [];
  });
}

/**
 * The inputs as objects of the local bucket: a file linked (or copied) to its key; a folder linked
 * whole, or its files one by one below its prefix. What an earlier run left under the same name is
 * replaced.
 */
async function placeInputs(named: readonly NamedInput[], dataDir: string): Promise<void> {
  for (const { input, key, linked } of named) {
    if (input.folder === undefined) {
      const [file] = input.files;
      if (file) await place(file.path, join(dataDir, key));
      continue;
    }
    // Without the trailing '/': a path ending in one would name what a link leads to, not the link.
    const folder = join(dataDir, key.slice(0, -1));
    await rm(folder, { recursive: true, force: true });
    if (linked) {
      await mkdir(dirname(folder), { recursive: true });
      await symlink(resolve(input.given), folder, 'dir');
      continue;
    }
    // Each folder made once, before the files are linked into it side by side.
    const folders = new Set(input.files.map((file) => dirname(join(folder, file.name))));
    for (const made of folders) await mkdir(made, { recursive: true });
    await forEachAtOnce(input.files, PLACING_AT_ONCE, (file) =>
      linkOrCopy(file.path, join(folder, file.name)),
    );
  }
}

/** Files linked (or copied) at once when placing a folder: the file system works while links wait. */
const PLACING_AT_ONCE = 16;

async function forEachAtOnce<T>(
  items: readonly T[],
  atOnce: number,
  act: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await act(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, worker));
}

/** The input as an object of the local bucket, replacing what was there. */
async function place(file: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  await rm(target, { recursive: true, force: true });
  await linkOrCopy(file, target);
}

/**
 * A hard link to the file where possible, a copy otherwise; to the file a symbolic link leads to, not
 * to the link, which the store would not follow.
 */
async function linkOrCopy(file: string, target: string): Promise<void> {
  const real = await realpath(file);
  await link(real, target).catch(() => copyFile(real, target));
}

/**
 * The results at `out`: moved there in one rename when allowed and possible (a job of thousands of
 * inputs has as many files, which copying takes seconds over), copied otherwise.
 */
async function placeResults(resultsDir: string, out: string, move: boolean): Promise<void> {
  if (move) {
    await mkdir(dirname(out), { recursive: true });
    try {
      await rename(resultsDir, out);
      return;
    } catch (error) {
      // Another file system, or an `out` that already holds files: copied into it instead.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw error;
    }
  }
  await cp(resultsDir, out, { recursive: true });
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
