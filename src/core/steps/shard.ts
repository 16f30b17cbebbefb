import { type ObjectStore, storedInput, writeText } from '../ports/object-store.ts';
import type { ShardThreads } from '../shard/pool.ts';
import { type ShardIndex, shardFile } from '../shard/sharder.ts';
import { type CompiledJob, inputBytes, inputReading } from '../spec/compile.ts';
import { indexKey, shardErrorsKey, shardKey } from './layout.ts';
import type { PlannedInput } from './plan.ts';

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
  jobId: string,
  job: CompiledJob,
  input: PlannedInput,
  workers?: ShardThreads,
): Promise<ShardResult> {
  // Starting a worker thread costs most of a second of CPU: worth it only for inputs that take longer.
  const threads = input.size >= WORKERS_FROM_BYTES ? workers : undefined;
  const index = await shardFile(
    inputBytes(job, input.key, input.name, storedInput(store, input.key, input.size)),
    { ...inputReading(job, input.key, input.name), ...(threads && { workers: threads }) },
    {
      openShard: (shard) => store.write(shardKey(jobId, input.index, shard, job.shards.extension)),
      errors: await store.write(shardErrorsKey(jobId, input.index)),
    },
  );
  await writeText(store, indexKey(jobId, input.index), JSON.stringify(index));
  return { input: input.index, shards: index.shards.length, records: index.records };
}
