import * as z from 'zod';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { type PlanConfig, planJob } from '../core/steps/plan.ts';
import { lambdaHandler } from './lambda.ts';

// The execution's input, as a trigger started it; the job spec in it is compiled by the plan, with its
// other sources.
const planEvent = z.object({
  jobId: z.string().min(1),
  request: z.object({
    inputs: z.array(z.string().min(1)),
    job: z.unknown().optional(),
    rerunOf: z.string().optional(),
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
