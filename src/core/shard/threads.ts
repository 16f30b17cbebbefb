import { Worker } from 'node:worker_threads';
import type { ShardThreads } from './pool.ts';

/** `count` shard worker threads, each started on `worker.ts` beside this file. */
export function shardThreads(count: number): ShardThreads {
  return {
    count,
    start: (workerData) => new Worker(new URL('./worker.ts', import.meta.url), { workerData }),
  };
}
