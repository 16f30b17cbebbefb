import {
  DescribeTrainingJobCommand,
  DescribeTransformJobCommand,
  SageMakerClient,
  StopTrainingJobCommand,
  StopTransformJobCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsSageMakerJobs } from '../../src/adapters/sagemaker-jobs.ts';

// SageMaker has no local stand-in this adapter could talk to: its answers are mocked.
const sageMaker = mockClient(SageMakerClient);
beforeEach(() => sageMaker.reset());

describe('AwsSageMakerJobs', () => {
  it('stops a transform job that is in progress and says so', async () => {
    sageMaker.on(DescribeTransformJobCommand).resolves({ TransformJobStatus: 'InProgress' });
    sageMaker.on(StopTransformJobCommand).resolves({});
    expect(
      await new AwsSageMakerJobs(new SageMakerClient({ region: 'us-east-1' })).stopTransformJob('tfbp-dev-j'),
    ).toBe(true);
    expect(sageMaker.commandCalls(StopTransformJobCommand)[0]?.args[0].input).toEqual({
      TransformJobName: 'tfbp-dev-j',
    });
  });

  it('leaves finished and missing jobs alone', async () => {
    sageMaker.on(DescribeTransformJobCommand).resolves({ TransformJobStatus: 'Completed' });
    sageMaker
      .on(DescribeTrainingJobCommand)
      .rejects(Object.assign(new Error('Requested resource not found.'), { name: 'ValidationException' }));
    const jobs = new AwsSageMakerJobs(new SageMakerClient({ region: 'us-east-1' }));
    expect(await jobs.stopTransformJob('done')).toBe(false);
    expect(await jobs.stopTrainingJob('never')).toBe(false);
    expect(sageMaker.commandCalls(StopTransformJobCommand)).toHaveLength(0);
    expect(sageMaker.commandCalls(StopTrainingJobCommand)).toHaveLength(0);
  });

  it('lets other errors through, so that the Cleanup step is retried', async () => {
    sageMaker
      .on(DescribeTransformJobCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(
      new AwsSageMakerJobs(new SageMakerClient({ region: 'us-east-1' })).stopTransformJob('j'),
    ).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});
