import { CountMismatchError, ObjectNotFoundError } from '../errors.ts';
import { abandon } from '../io.ts';
import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import type { CompiledJob } from '../spec/compile.ts';
import { jobRecordKey, readJobRecord } from './job-record.ts';
import {
  inputName,
  mergedKey,
  mergeErrorsKey,
  predictionsKey,
  predictionsPartKey,
  resultsPrefix,
  shardErrorsKey,
  summaryKey,
} from './layout.ts';
import type { MergedGroup, MergedInput } from './merge.ts';
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
 * Finish step: `_errors.jsonl` (every group's quarantined records, in input order), for a whole-object
 * job `predictions.jsonl` (every group's lines, in order), a split Parquet file's `<input>.out` (its
 * parts' lines, in order), and `_summary.json`. The job fails when its error rate is over
 * maxErrorPercent; the files are written either way.
 */
export async function finishStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'groups' | 'startedAt' | 'rerunOf'>,
  job: CompiledJob,
  now = new Date(),
): Promise<JobSummary> {
  // Each Merge left its counts in work/: the state machine's data stays small however many inputs.
  const merged: MergedGroup[] = [];
  for (const group of plan.groups) {
    merged.push(JSON.parse(await readText(store, mergedKey(plan.jobId, group.group))) as MergedGroup);
  }
  const errorParts = plan.groups.flatMap(({ group }) => [
    shardErrorsKey(plan.jobId, group),
    mergeErrorsKey(plan.jobId, group),
  ]);
  await concatenate(store, errorParts, `${resultsPrefix(plan.jobId)}_errors.jsonl`);
  const inputs: JobSummary['inputs'] = [];
  if (merged.some((group) => group.kind === 'objects')) {
    const parts = plan.groups.map(({ group }) => predictionsPartKey(plan.jobId, group));
    await concatenate(store, parts, predictionsKey(plan.jobId));
    inputs.push(...(await requestedInputs(store, plan.jobId, merged)));
  } else {
    const listed = merged.flatMap((group) => (group.kind === 'inputs' ? group.inputs : []));
    for (const input of await joinParts(store, plan.jobId, listed)) {
      inputs.push({ key: input.key, records: input.records, errors: input.errors, output: input.output });
    }
  }
  const records = { in: 0, out: 0, errors: 0 };
  for (const group of merged) {
    const counts = group.kind === 'objects' ? [group] : group.inputs;
    for (const input of counts) {
      records.in += input.records;
      records.out += input.out;
      records.errors += input.errors;
    }
  }
  const rate = records.in === 0 ? 0 : (100 * records.errors) / records.in;
  const failed = rate > job.spec.maxErrorPercent;
  const summary: JobSummary = {
    jobId: plan.jobId,
    status: failed ? 'Failed' : 'Succeeded',
    inputs,
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

/** A whole-object job's summary has one entry per requested input (a file or a folder), as requested. */
async function requestedInputs(
  store: ObjectStore,
  jobId: string,
  merged: MergedGroup[],
): Promise<JobSummary['inputs']> {
  const record = await readJobRecord(store, jobId);
  if (!record) throw new ObjectNotFoundError(jobRecordKey(jobId));
  const entries = record.inputs.map((key) => ({
    key: inputName(key),
    records: 0,
    errors: 0,
    output: predictionsKey(jobId),
  }));
  for (const group of merged) {
    if (group.kind !== 'objects') continue;
    for (const counts of group.requests) {
      const entry = entries[counts.request];
      if (!entry) continue;
      entry.records += counts.records;
      entry.errors += counts.errors;
    }
  }
  return entries;
}

/**
 * The inputs as Merge left them, each split input's parts (consecutive groups) joined into one: its
 * parts' outputs written, in order, into `<input>.out`, once the parts are all there and their counts
 * add up to the rows the file's footer gave when planned; otherwise a CountMismatchError.
 */
async function joinParts(store: ObjectStore, jobId: string, inputs: MergedInput[]): Promise<MergedInput[]> {
  const joined: MergedInput[] = [];
  for (let k = 0; k < inputs.length; ) {
    const first = inputs[k] as MergedInput;
    if (!first.part) {
      joined.push(first);
      k++;
      continue;
    }
    const { index, parts: count } = first.part;
    const parts = inputs.slice(k, k + count);
    const found = parts.filter((input, p) => input.part?.index === index && input.part.part === p);
    if (found.length !== count) {
      throw new CountMismatchError(
        `${first.key}: ${count} parts planned but only ${found.length} merged in order: its output would lose rows`,
      );
    }
    const sum = (counted: (input: MergedInput) => number) =>
      parts.reduce((total, input) => total + counted(input), 0);
    const rows = sum((input) => input.part?.rows ?? 0);
    const total = {
      key: first.key,
      records: sum((input) => input.records),
      errors: sum((input) => input.errors),
      out: sum((input) => input.out),
      skipped: sum((input) => input.skipped),
    };
    if (total.records !== rows || total.records !== total.out + total.errors) {
      throw new CountMismatchError(
        `${first.key}: its ${count} parts read ${total.records} rows of the ${rows} its footer holds, ` +
          `${total.out} out and ${total.errors} in error: the counts do not add up`,
      );
    }
    const output = `${resultsPrefix(jobId)}${first.key}.out`;
    await concatenate(
      store,
      parts.map((input) => input.output),
      output,
      'fail',
    );
    joined.push({ ...total, output });
    k += count;
  }
  return joined;
}

/**
 * Writes the parts, in order, into one object, as a stream: those that exist, or with `missing` 'fail'
 * every one (a missing one is an ObjectNotFoundError, and nothing is written).
 */
async function concatenate(
  store: ObjectStore,
  parts: readonly string[],
  key: string,
  missing: 'skip' | 'fail' = 'skip',
): Promise<void> {
  const target = await store.write(key);
  try {
    for (const part of parts) {
      if (missing === 'skip' && !(await store.head(part))) continue;
      for await (const chunk of store.read(part)) await target.write(chunk);
    }
  } catch (error) {
    await abandon([target], error);
  }
  await target.close();
}
