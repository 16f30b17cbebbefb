import {
  DescribeTrainingJobCommand,
  DescribeTransformJobCommand,
  SageMakerClient,
  StopTrainingJobCommand,
  StopTransformJobCommand,
} from '@aws-sdk/client-sagemaker';
import type { SageMakerJobs } from '../core/ports/sagemaker-jobs.ts';

const RUNNING = new Set(['InProgress', 'Stopping']);

/** SageMaker answers a job that never existed with a ValidationException saying it could not find it. */
function isMissing(error: unknown): boolean {
  return (
    (error as Error).name === 'ValidationException' &&
    /could not find|not found/i.test((error as Error).message)
  );
}

export class AwsSageMakerJobs implements SageMakerJobs {
  private readonly client: SageMakerClient;

  constructor(client = new SageMakerClient({})) {
    this.client = client;
  }

  async stopTransformJob(name: string): Promise<boolean> {
    try {
      const job = await this.client.send(new DescribeTransformJobCommand({ TransformJobName: name }));
      if (!RUNNING.has(job.TransformJobStatus ?? '')) return false;
      if (job.TransformJobStatus === 'InProgress')
        await this.client.send(new StopTransformJobCommand({ TransformJobName: name }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async stopTrainingJob(name: string): Promise<boolean> {
    try {
      const job = await this.client.send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
      if (!RUNNING.has(job.TrainingJobStatus ?? '')) return false;
      if (job.TrainingJobStatus === 'InProgress')
        await this.client.send(new StopTrainingJobCommand({ TrainingJobName: name }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }
}
