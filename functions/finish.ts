import { z } from 'zod';
import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { jobSpecSchema } from '../src/core/spec/job.ts';
import type { Plan } from '../src/core/steps/plan.ts';
import { finishStep, type MergeResult } from '../src/core/steps/run-steps.ts';
import { plannedInput } from './schemas.ts';

const mergeResult = z.object({
  key: z.string(),
  records: z.number(),
  errors: z.number(),
  out: z.number(),
  skipped: z.number(),
  output: z.string(),
});

// The plan is the Plan step's own output, passed back unchanged: only what Finish reads is checked.
const event = z.object({
  plan: z.looseObject({
    jobId: z.string(),
    spec: jobSpecSchema,
    inputs: z.array(plannedInput),
    startedAt: z.string(),
  }),
  merged: z.array(mergeResult),
});

export const handler = lambdaHandler(event, async ({ plan, merged }) =>
  finishStep(stepDependencies().store, plan as unknown as Plan, merged as MergeResult[]),
);
