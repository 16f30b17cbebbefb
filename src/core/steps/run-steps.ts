import { compileJsonPath } from '../json/path.ts';
import { type InputSummary, mergeInput } from '../merge/merger.ts';
import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import type { SageMakerJobs } from '../ports/sagemaker-jobs.ts';
import type { ShardThreads } from '../shard/pool.ts';
import { type ShardIndex, shardInput } from '../shard/sharder.ts';
import {
  indexKey,
  mergedKey,
  mergeErrorsKey,
  resultsPrefix,
  shardErrorsKey,
  shardKey,
  shardOutputKey,
  workPrefix,
} from './layout.ts';
import type { Plan, PlannedInput } from './plan.ts';
import { inputReaderFor, shardExtension, shardOptionsFor } from './records.ts';

export interface ShardResult {
  readonly input: number;
  readonly shards: number;
  readonly records: ShardIndex['records'];
}

/** The input size from which Shard encodes on worker threads, when it has them. */
export const WORKERS_FROM_BYTES = 32 * 1024 * 1024;

/** Shard step: one input, read once, cut into shards; its index is kept for the merge. */
export async function shardStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'spec'>,
  input: PlannedInput,
  workers?: ShardThreads,
): Promise<ShardResult> {
  // Starting a worker thread costs most of a second of CPU: worth it only for inputs that take longer.
  const options = shardOptionsFor(
    plan.spec,
    input.name,
    input.size >= WORKERS_FROM_BYTES ? workers : undefined,
  );
  const extension = shardExtension(options);
  const index = await shardInput(store.read(input.key), options, {
    openShard: (shard) => store.write(shardKey(plan.jobId, input.index, shard, extension)),
    errors: await store.write(shardErrorsKey(plan.jobId, input.index)),
  });
  await writeText(store, indexKey(plan.jobId, input.index), JSON.stringify(index));
  return { input: input.index, shards: index.shards.length, records: index.records };
}

export interface MergeResult extends InputSummary {
  readonly output: string;
}

/** Merge step: one input's transform outputs, back in input order, into `results/<jobId>/<name>.out`. */
export async function mergeStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'spec'>,
  input: PlannedInput,
): Promise<MergeResult> {
  const options = shardOptionsFor(plan.spec, input.name);
  const extension = shardExtension(options);
  const index = JSON.parse(await readText(store, indexKey(plan.jobId, input.index))) as ShardIndex;
  const output = `${resultsPrefix(plan.jobId)}${input.name}.out`;
  const { dataProcessing } = plan.spec;
  const summary = await mergeInput(
    index,
    {
      shardOutput: (shard) => store.read(shardOutputKey(plan.jobId, input.index, shard, extension)),
      input: () => store.read(input.key),
    },
    {
      tfsMethod: plan.spec.tfsMethod,
      joinSource: dataProcessing.joinSource,
      ...(dataProcessing.outputFilter !== undefined && {
        outputFilter: compileJsonPath(dataProcessing.outputFilter),
      }),
      readInput: inputReaderFor(options),
      csvInput: options.decoding === 'csv',
    },
    { out: await store.write(output), errors: await store.write(mergeErrorsKey(plan.jobId, input.index)) },
  );
  const result = { ...summary, output };
  await writeText(store, mergedKey(plan.jobId, input.index), JSON.stringify(result));
  return result;
}

export interface JobSummary {
  readonly jobId: string;
  readonly status: 'Succeeded' | 'Failed';
  readonly inputs: { key: string; records: number; errors: number; output: string }[];
  readonly records: { in: number; out: number; errors: number };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly reason?: string;
  readonly rerunOf?: string;
}

/**
 * Finish step: `_errors.jsonl` (every input's quarantined records, in input order) and
 * `_summary.json`. The job fails when its error rate is over maxErrorPercent; both files are written
 * either way.
 */
export async function finishStep(store: ObjectStore, plan: Plan, now = new Date()): Promise<JobSummary> {
  // Each Merge left its counts in work/: the state machine's data stays small however many inputs.
  const merged: MergeResult[] = [];
  for (const input of plan.inputs) {
    merged.push(JSON.parse(await readText(store, mergedKey(plan.jobId, input.index))) as MergeResult);
  }
  const errors = await store.write(`${resultsPrefix(plan.jobId)}_errors.jsonl`);
  for (const input of plan.inputs) {
    for (const key of [shardErrorsKey(plan.jobId, input.index), mergeErrorsKey(plan.jobId, input.index)]) {
      if (!(await store.head(key))) continue;
      for await (const chunk of store.read(key)) await errors.write(chunk);
    }
  }
  await errors.close();
  const records = { in: 0, out: 0, errors: 0 };
  for (const input of merged) {
    records.in += input.records;
    records.out += input.out;
    records.errors += input.errors;
  }
  const rate = records.in === 0 ? 0 : (100 * records.errors) / records.in;
  const failed = rate > plan.spec.maxErrorPercent;
  const summary: JobSummary = {
    jobId: plan.jobId,
    status: failed ? 'Failed' : 'Succeeded',
    inputs: merged.map((input) => ({
      key: input.key,
      records: input.records,
      errors: input.errors,
      output: input.output,
    })),
    records,
    startedAt: plan.startedAt,
    finishedAt: now.toISOString(),
    ...(failed && {
      reason: `${records.errors} of ${records.in} records (${rate.toFixed(2)}%) could not be scored, over maxErrorPercent ${plan.spec.maxErrorPercent}`,
    }),
    ...(plan.rerunOf !== undefined && { rerunOf: plan.rerunOf }),
  };
  await writeText(
    store,
    `${resultsPrefix(plan.jobId)}_summary.json`,
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  return summary;
}

export interface CleanupResult {
  /** Jobs that were still running and were stopped. */
  readonly stopped: string[];
  /** Objects deleted under work/<jobId>/. */
  readonly deleted: number;
}

/**
 * Cleanup step: a transform or training job still running (the execution failed around it, or timed
 * out waiting) is stopped, and everything the job wrote under work/ goes. Safe to run again.
 */
export async function cleanupStep(
  store: ObjectStore,
  jobs: SageMakerJobs | undefined,
  job: { jobId: string; names?: { transform: string; training: string } },
): Promise<CleanupResult> {
  const stopped: string[] = [];
  if (jobs && job.names) {
    if (await jobs.stopTransformJob(job.names.transform))
      stopped.push(`transform job ${job.names.transform}`);
    if (await jobs.stopTrainingJob(job.names.training)) stopped.push(`training job ${job.names.training}`);
  }
  return { stopped, deleted: await store.deletePrefix(workPrefix(job.jobId)) };
}
