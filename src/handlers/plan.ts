import * as z from 'zod/mini';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { type PlanConfig, planJob } from '../core/steps/plan.ts';
import { lambdaHandler } from './lambda.ts';

// The execution's input, as a trigger started it; the job spec in it is compiled by the plan, with its
// other sources.
const planEvent = z.object({
  jobId: z.string().check(z.minLength(1)),
  request: z.object({
    inputs: z.array(z.string().check(z.minLength(1))),
    job: z.optional(z.unknown()),
    rerunOf: z.optional(z.string()),
  }),
});

export interface PlanDependencies {
  readonly store: ObjectStore;
  readonly config: PlanConfig;
}

export const createPlanHandler = (dependencies: () => PlanDependencies) =>
  lambdaHandler(planEvent, async ({ jobId, request }) => {
    const { store, config } = dependencies();
    return planJob({ jobId, ...request }, store, config);
  });
