import type { ObjectStore } from '../ports/object-store.ts';
import type { SageMakerJobs } from '../ports/sagemaker-jobs.ts';
import { workPrefix } from './layout.ts';

export interface CleanupResult {
  /** Jobs that were still running and were stopped. */
  readonly stopped: string[];
  /** Objects deleted under work/<jobId>/. */
  readonly deleted: number;
}

/**
 * Cleanup step: a transform or training job still running (the execution failed around it, or timed
 * out waiting) is stopped, and everything the job wrote under work/ goes. Safe to run again.
 */
export async function cleanupStep(
  store: ObjectStore,
  jobs: SageMakerJobs | undefined,
  job: { jobId: string; names?: { transform: string; training: string } },
): Promise<CleanupResult> {
  const stopped: string[] = [];
  if (jobs && job.names) {
    if (await jobs.stopTransformJob(job.names.transform))
      stopped.push(`transform job ${job.names.transform}`);
    if (await jobs.stopTrainingJob(job.names.training)) stopped.push(`training job ${job.names.training}`);
  }
  return { stopped, deleted: await store.deletePrefix(workPrefix(job.jobId)) };
}
