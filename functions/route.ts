import { z } from 'zod';
import { type StepDependencies, stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { jobSpecSchema } from '../src/core/spec/job.ts';
import { chooseScoringStep } from '../src/core/steps/scoring.ts';
import { plannedInput } from './schemas.ts';

// The plan is the Plan step's own output, passed back unchanged: only what Route reads is checked.
const event = z.object({
  plan: z.looseObject({
    jobId: z.string(),
    spec: jobSpecSchema,
    inputs: z.array(plannedInput),
    model: z.looseObject({ image: z.string(), serverlessImage: z.string() }),
  }),
});

/** The handler over the given dependencies: AWS's when deployed, the local stack's in local mode. */
export const createRouteHandler = (dependencies: () => StepDependencies) =>
  lambdaHandler(event, async ({ plan }) => chooseScoringStep(dependencies().store, plan));

export const handler = createRouteHandler(() => stepDependencies());
