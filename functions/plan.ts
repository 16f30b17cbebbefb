import { z } from 'zod';
import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
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

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createPlanHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(event, async ({ jobId, request }) => {
    const { store, planConfig } = dependencies();
    return planJob({ jobId, ...request }, store, planConfig);
  });

export const handler = createPlanHandler(() => stepDependencies());
