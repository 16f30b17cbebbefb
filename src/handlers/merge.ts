import type { ObjectStore } from '../core/ports/object-store.ts';
import { mergeStep } from '../core/steps/merge.ts';
import { mergeGroupEvent } from './events.ts';
import { lambdaHandler } from './lambda.ts';

export const createMergeHandler = (dependencies: () => { readonly store: ObjectStore }) =>
  lambdaHandler(
    mergeGroupEvent,
    async ({ jobId, spec: job, group, transform, scoring: { transformFailure } }) =>
      mergeStep(dependencies().store, jobId, job, group, {
        transform: transform.objects ? { objects: transform.objects } : {},
        ...(transformFailure && { transformFailure }),
      }),
  );
