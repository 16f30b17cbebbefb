import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { shardStep } from '../src/core/steps/run-steps.ts';
import { perInputEvent } from './schemas.ts';

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createShardHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(perInputEvent, async ({ jobId, spec, input }) =>
    shardStep(dependencies().store, { jobId, spec }, input, dependencies().shardWorkers),
  );

export const handler = createShardHandler(() => stepDependencies());
