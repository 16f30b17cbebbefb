import type { ObjectStore } from '../core/ports/object-store.ts';
import { mergeStep } from '../core/steps/merge.ts';
import { perInputEvent } from './events.ts';
import { lambdaHandler } from './lambda.ts';

export const createMergeHandler = (dependencies: () => { readonly store: ObjectStore }) =>
  lambdaHandler(perInputEvent, async ({ jobId, spec: job, input }) =>
    mergeStep(dependencies().store, jobId, job, input),
  );
