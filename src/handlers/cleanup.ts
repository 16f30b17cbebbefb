import * as z from 'zod/mini';
import type { ObjectStore } from '../core/ports/object-store.ts';
import type { SageMakerJobs } from '../core/ports/sagemaker-jobs.ts';
import { cleanupStep } from '../core/steps/cleanup.ts';
import { lambdaHandler } from './lambda.ts';

const cleanupEvent = z.object({
  jobId: z.string().check(z.minLength(1)),
  names: z.optional(z.object({ model: z.string(), transform: z.string(), training: z.string() })),
});

export interface CleanupDependencies {
  readonly store: ObjectStore;
  readonly jobs: SageMakerJobs;
}

export const createCleanupHandler = (dependencies: () => CleanupDependencies) =>
  lambdaHandler(cleanupEvent, async (job) => {
    const { store, jobs } = dependencies();
    return cleanupStep(store, jobs, job);
  });
