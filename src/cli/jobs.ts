import { resolve } from 'node:path';
import { type QueuedExecution, wasInterrupted } from '../adapters/local-executions.ts';
import { readText } from '../core/ports/object-store.ts';
import type { JobSummary } from '../core/steps/finish.ts';
import { readJobRecord } from '../core/steps/job-record.ts';
import { summaryKey } from '../core/steps/layout.ts';
import { LocalStack } from '../local/stack.ts';
import { UsageError } from './errors.ts';
import { Progress } from './progress.ts';
import { executeJob, newJobId } from './run.ts';
import type { Output } from './usage.ts';

export interface JobStatus {
  readonly jobId: string;
  /** Queued, Running, Succeeded or Failed; Interrupted when its process went away mid-run. */
  readonly status: string;
  readonly queuedAt: string;
  readonly finishedAt?: string;
  readonly records?: JobSummary['records'];
  readonly reason?: string;
  readonly results?: string;
  readonly rerunOf?: string;
}

/** `pipeline status [jobId]`: every job of the data dir, newest last, or one job in full. */
export async function statusCommand(
  dataDir: string,
  jobId: string | undefined,
  json: boolean,
  output: Output,
): Promise<number> {
  const stack = new LocalStack({ dataDir });
  const executions = jobId ? [await stack.executions.get(jobId)] : await stack.executions.list();
  if (jobId && !executions[0]) throw new UsageError(`no job ${jobId} in ${stack.store.root}`);
  const statuses: JobStatus[] = [];
  for (const execution of executions) {
    if (execution) statuses.push(await statusOf(stack, execution));
  }
  statuses.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
  if (json) {
    output.stdout(`${JSON.stringify(jobId ? statuses[0] : statuses)}\n`);
    return 0;
  }
  if (statuses.length === 0) output.stdout(`No jobs in ${stack.store.root}\n`);
  for (const job of statuses) {
    const counts = job.records
      ? ` ${job.records.in} in, ${job.records.out} scored, ${job.records.errors} quarantined`
      : '';
    const rerun = job.rerunOf ? `  (rerun of ${job.rerunOf})` : '';
    output.stdout(`${job.jobId}  ${job.status}${counts}${job.reason ? `  ${job.reason}` : ''}${rerun}\n`);
    if (jobId && job.results) output.stdout(`  results: ${job.results}\n`);
  }
  return 0;
}

async function statusOf(stack: LocalStack, execution: QueuedExecution): Promise<JobStatus> {
  const key = summaryKey(execution.name);
  const summary = (await stack.store.head(key))
    ? (JSON.parse(await readText(stack.store, key)) as JobSummary)
    : undefined;
  const interrupted = wasInterrupted(execution);
  let status: string = summary?.status ?? 'Queued';
  if (!summary && execution.status === 'RUNNING') status = interrupted ? 'Interrupted' : 'Running';
  if (!summary && (execution.status === 'FAILED' || execution.status === 'ABORTED')) status = 'Failed';
  const reason =
    summary?.reason ??
    (execution.error && `${execution.error.name}: ${execution.error.message}`) ??
    (interrupted
      ? `process ${execution.pid} ended while running it: the next pipeline up resumes it, as does pipeline rerun ${execution.name}`
      : undefined);
  return {
    jobId: execution.name,
    status,
    queuedAt: execution.queuedAt,
    ...(execution.finishedAt !== undefined && { finishedAt: execution.finishedAt }),
    ...(summary && {
      records: summary.records,
      results: resolve(stack.store.root, 'results', execution.name),
    }),
    ...(reason !== undefined && { reason }),
    ...(summary?.rerunOf !== undefined && { rerunOf: summary.rerunOf }),
  };
}

/**
 * `pipeline rerun <jobId>`: the same inputs and spec as a past job, as a new job naming it. A job
 * that was interrupted runs again under its own id (its partial work cleared), unless `newId`: then it
 * is closed, and the new job takes its place.
 */
export async function rerunCommand(
  options: { dataDir: string; jobId: string; newId: boolean; json: boolean; modelUrl?: string; out?: string },
  output: Output,
): Promise<number> {
  const progress = new Progress({ write: output.stderr, interactive: output.interactive });
  const stack = new LocalStack({
    dataDir: options.dataDir,
    ...(options.modelUrl !== undefined && { modelUrl: options.modelUrl }),
    onTransformProgress: (event) => progress.onRecords(event.records),
  });
  const report = {
    json: options.json,
    out: options.out === undefined ? undefined : resolve(options.out),
    progress,
  };
  try {
    const execution = await stack.executions.get(options.jobId);
    const interrupted = execution !== undefined && wasInterrupted(execution);
    if (interrupted && !options.newId) {
      return await executeJob(stack, execution.name, execution.input, { ...report, resuming: true }, output);
    }
    const record = await readJobRecord(stack.store, options.jobId);
    if (!record)
      throw new UsageError(`no job ${options.jobId} to rerun in ${stack.store.root} (see pipeline status)`);
    const jobId = newJobId('rerun');
    if (interrupted) await stack.endInterrupted(options.jobId, `replaced by ${jobId}`);
    return await executeJob(
      stack,
      jobId,
      { inputs: record.inputs, job: record.job, rerunOf: record.jobId },
      { ...report, resuming: false },
      output,
    );
  } finally {
    await stack.close();
  }
}
