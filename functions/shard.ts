import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { shardStep } from '../src/core/steps/run-steps.ts';
import { perInputEvent } from './schemas.ts';

export const handler = lambdaHandler(perInputEvent, async ({ jobId, spec, input }) =>
  shardStep(stepDependencies().store, { jobId, spec }, input),
);
