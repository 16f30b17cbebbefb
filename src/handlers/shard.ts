import type { ObjectStore } from '../core/ports/object-store.ts';
import type { ShardThreads } from '../core/shard/pool.ts';
import { shardStep } from '../core/steps/shard.ts';
import { perGroupEvent } from './events.ts';
import { lambdaHandler } from './lambda.ts';

export interface ShardDependencies {
  readonly store: ObjectStore;
  /** Threads that encode records while Shard reads; none in Lambda, where the function's share of a core is small. */
  readonly workers?: ShardThreads;
}

export const createShardHandler = (dependencies: () => ShardDependencies) =>
  lambdaHandler(perGroupEvent, async ({ jobId, spec: job, group }) => {
    const { store, workers } = dependencies();
    return shardStep(store, jobId, job, group, workers);
  });
