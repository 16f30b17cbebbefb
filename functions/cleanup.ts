import { z } from 'zod';
import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { cleanupStep } from '../src/core/steps/run-steps.ts';

const event = z.object({
  jobId: z.string().min(1),
  names: z.object({ model: z.string(), transform: z.string(), training: z.string() }).optional(),
});

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createCleanupHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(event, async (job) => {
    const { store, jobs } = dependencies();
    return cleanupStep(store, jobs, job);
  });

export const handler = createCleanupHandler(() => stepDependencies());
