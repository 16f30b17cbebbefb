import { z } from 'zod';
import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { cleanupStep } from '../src/core/steps/run-steps.ts';

const event = z.object({
  jobId: z.string().min(1),
  names: z.object({ model: z.string(), transform: z.string(), training: z.string() }).optional(),
});

export const handler = lambdaHandler(event, async (job) => {
  const { store, jobs } = stepDependencies();
  return cleanupStep(store, jobs, job);
});
