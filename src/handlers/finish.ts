import * as z from 'zod/mini';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { finishStep } from '../core/steps/finish.ts';
import { compiledJob, inputGroup } from './events.ts';
import { lambdaHandler } from './lambda.ts';

// The plan is the Plan step's own output, passed back unchanged: only what Finish reads is checked.
const finishEvent = z.object({
  plan: z.object({
    jobId: z.string(),
    spec: compiledJob,
    groups: z.array(inputGroup),
    startedAt: z.string(),
    rerunOf: z.optional(z.string()),
  }),
});

export const createFinishHandler = (dependencies: () => { readonly store: ObjectStore }) =>
  lambdaHandler(finishEvent, async ({ plan }) => finishStep(dependencies().store, plan, plan.spec));
