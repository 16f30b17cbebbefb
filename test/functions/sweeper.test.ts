import {
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Only SageMaker and Step Functions know what runs and what exists: their answers are mocked.
const sageMaker = mockClient(SageMakerClient);
const sfn = mockClient(SFNClient);
const context = {
  functionName: 'sweeper',
  awsRequestId: 'r',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:tf-batch-pipeline-dev-sweeper',
} as unknown as Context;

beforeAll(() => {
  Object.assign(process.env, {
    NAME_PREFIX: 'tfbp-dev',
    STATE_MACHINE_ARN: 'arn:{partition}:states:{region}:{account}:stateMachine:tf-batch-pipeline-dev',
    SWEEP_AFTER_HOURS: '6',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const created = new Date('2026-11-21T00:00:00Z');
  sageMaker.on(ListModelsCommand).resolves({
    Models: [
      { ModelName: 'tfbp-dev-inbox-old-1', CreationTime: created, ModelArn: 'a' },
      { ModelName: 'tfbp-dev-inbox-running-2', CreationTime: created, ModelArn: 'b' },
    ],
  });
  sageMaker.on(ListEndpointsCommand).resolves({ Endpoints: [] });
  sageMaker.on(ListEndpointConfigsCommand).resolves({ EndpointConfigs: [] });
  sageMaker.on(DeleteModelCommand).resolves({});
  sfn.on(ListExecutionsCommand).resolves({
    executions: [
      {
        name: 'inbox-running-2',
        executionArn: 'x',
        stateMachineArn: 's',
        status: 'RUNNING',
        startDate: created,
      },
    ],
  });
});
afterAll(() => {
  sageMaker.restore();
  sfn.restore();
});

describe('sweeper handler', () => {
  it('deletes the orphaned model and keeps the one a running execution owns', async () => {
    const { handler } = await import('../../functions/sweeper.ts');
    const result = await handler({ time: '2026-11-22T12:00:00Z' }, context);
    expect(result.deleted.map((r) => r.name)).toEqual(['tfbp-dev-inbox-old-1']);
    expect(sageMaker.commandCalls(DeleteModelCommand).map((c) => c.args[0].input)).toEqual([
      { ModelName: 'tfbp-dev-inbox-old-1' },
    ]);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input.stateMachineArn).toBe(
      'arn:aws:states:eu-west-1:123456789012:stateMachine:tf-batch-pipeline-dev',
    );
  });
});
