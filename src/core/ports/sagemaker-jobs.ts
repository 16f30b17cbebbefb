/** What Cleanup asks of SageMaker: stop a job the execution leaves running (after a timeout, say). */
export interface SageMakerJobs {
  /** Stops the transform job if it is still running; whether it was. */
  stopTransformJob(name: string): Promise<boolean>;
  /** Stops the training job if it is still running; whether it was. */
  stopTrainingJob(name: string): Promise<boolean>;
}
