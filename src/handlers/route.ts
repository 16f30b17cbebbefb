import * as z from 'zod/mini';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { chooseScoringStep } from '../core/steps/route.ts';
import { compiledJob, inputGroup, transformObjects } from './events.ts';
import { lambdaHandler } from './lambda.ts';

// The plan is the Plan step's own output, passed back unchanged: only what Route reads is checked.
const routeEvent = z.object({
  plan: z.object({
    jobId: z.string(),
    spec: compiledJob,
    groups: z.array(inputGroup),
    model: z.object({ image: z.string(), serverlessImage: z.string() }),
    transform: z.object({ objects: transformObjects }),
  }),
});

export const createRouteHandler = (dependencies: () => { readonly store: ObjectStore }) =>
  lambdaHandler(routeEvent, async ({ plan }) => chooseScoringStep(dependencies().store, plan, plan.spec));
