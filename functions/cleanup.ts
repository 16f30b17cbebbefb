import { z } from 'zod';
import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { cleanupWork } from '../src/core/steps/run-steps.ts';

const event = z.object({ jobId: z.string().min(1) });

export const handler = lambdaHandler(event, async ({ jobId }) =>
  cleanupWork(stepDependencies().store, jobId),
);
