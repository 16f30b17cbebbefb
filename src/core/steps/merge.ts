import { type InputSummary, mergeInput } from '../merge/merger.ts';
import { type ObjectStore, readText, storedInput, writeText } from '../ports/object-store.ts';
import { inputRecords, type ShardIndex } from '../shard/sharder.ts';
import { type CompiledJob, inputBytes, inputReading } from '../spec/compile.ts';
import { indexKey, mergedKey, mergeErrorsKey, resultsPrefix, shardOutputKey } from './layout.ts';
import type { PlannedInput } from './plan.ts';

export interface MergeResult extends InputSummary {
  readonly output: string;
}

/** Merge step: one input's transform outputs, back in input order, into `results/<jobId>/<name>.out`. */
export async function mergeStep(
  store: ObjectStore,
  jobId: string,
  job: CompiledJob,
  input: PlannedInput,
): Promise<MergeResult> {
  const index = JSON.parse(await readText(store, indexKey(jobId, input.index))) as ShardIndex;
  const output = `${resultsPrefix(jobId)}${input.name}.out`;
  const reading = inputReading(job, input.key, input.name);
  const { joinSource } = job.spec.dataProcessing;
  const summary = await mergeInput(
    index,
    {
      shardOutput: (shard) => store.read(shardOutputKey(jobId, input.index, shard, job.shards.extension)),
      ...(joinSource === 'Input' && {
        inputRecords: await inputRecords(
          inputBytes(job, input.key, input.name, storedInput(store, input.key, input.size)),
          reading,
        ),
      }),
    },
    {
      tfsMethod: job.spec.tfsMethod,
      joinSource,
      ...(job.outputFilter && { outputFilter: job.outputFilter }),
      csvInput: reading.decoding === 'csv',
    },
    { out: await store.write(output), errors: await store.write(mergeErrorsKey(jobId, input.index)) },
  );
  const result = { ...summary, output };
  await writeText(store, mergedKey(jobId, input.index), JSON.stringify(result));
  return result;
}
