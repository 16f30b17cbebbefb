import { z } from 'zod';
import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { jobSpecSchema } from '../src/core/spec/job.ts';
import type { Plan } from '../src/core/steps/plan.ts';
import { finishStep } from '../src/core/steps/run-steps.ts';
import { plannedInput } from './schemas.ts';

// The plan is the Plan step's own output, passed back unchanged: only what Finish reads is checked.
const event = z.object({
  plan: z.looseObject({
    jobId: z.string(),
    spec: jobSpecSchema,
    inputs: z.array(plannedInput),
    startedAt: z.string(),
  }),
});

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createFinishHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(event, async ({ plan }) => finishStep(dependencies().store, plan as unknown as Plan));

export const handler = createFinishHandler(() => stepDependencies());
