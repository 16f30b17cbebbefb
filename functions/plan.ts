import { z } from 'zod';
import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { planJob } from '../src/core/steps/plan.ts';

const event = z.object({
  jobId: z.string().min(1),
  request: z.object({
    inputs: z.array(z.string().min(1)),
    job: z.unknown().optional(),
    rerunOf: z.string().optional(),
  }),
});

export const handler = lambdaHandler(event, async ({ jobId, request }) => {
  const { store, planConfig } = stepDependencies();
  return planJob({ jobId, ...request }, store, planConfig);
});
