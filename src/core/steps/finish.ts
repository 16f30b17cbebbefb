import { abandon } from '../io.ts';
import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import type { CompiledJob } from '../spec/compile.ts';
import { mergedKey, mergeErrorsKey, resultsPrefix, shardErrorsKey, summaryKey } from './layout.ts';
import type { MergeResult } from './merge.ts';
import type { Plan } from './plan.ts';

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
export async function finishStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'inputs' | 'startedAt' | 'rerunOf'>,
  job: CompiledJob,
  now = new Date(),
): Promise<JobSummary> {
  // Each Merge left its counts in work/: the state machine's data stays small however many inputs.
  const merged: MergeResult[] = [];
  for (const input of plan.inputs) {
    merged.push(JSON.parse(await readText(store, mergedKey(plan.jobId, input.index))) as MergeResult);
  }
  const errors = await store.write(`${resultsPrefix(plan.jobId)}_errors.jsonl`);
  try {
    for (const input of plan.inputs) {
      for (const key of [shardErrorsKey(plan.jobId, input.index), mergeErrorsKey(plan.jobId, input.index)]) {
        if (!(await store.head(key))) continue;
        for await (const chunk of store.read(key)) await errors.write(chunk);
      }
    }
  } catch (error) {
    await abandon([errors], error);
  }
  await errors.close();
  const records = { in: 0, out: 0, errors: 0 };
  for (const input of merged) {
    records.in += input.records;
    records.out += input.out;
    records.errors += input.errors;
  }
  const rate = records.in === 0 ? 0 : (100 * records.errors) / records.in;
  const failed = rate > job.spec.maxErrorPercent;
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
      reason: `${records.errors} of ${records.in} records (${rate.toFixed(2)}%) could not be scored, over maxErrorPercent ${job.spec.maxErrorPercent}`,
    }),
    ...(plan.rerunOf !== undefined && { rerunOf: plan.rerunOf }),
  };
  // Last, and whole (the store writes atomically): a reader that sees it sees the complete results.
  await writeText(store, summaryKey(plan.jobId), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
