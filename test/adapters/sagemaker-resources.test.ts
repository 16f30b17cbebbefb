import {
  DeleteEndpointCommand,
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AwsSageMakerResources,
  StepFunctionsRunningExecutions,
} from '../../src/adapters/sagemaker-resources.ts';

// SageMaker and Step Functions have no local stand-in these adapters could talk to: answers are mocked.
const sageMaker = mockClient(SageMakerClient);
const sfn = mockClient(SFNClient);
afterAll(() => {
  sageMaker.restore();
  sfn.restore();
});

describe('AwsSageMakerResources', () => {
  it('lists models, endpoints and configs over pages, keeping only names that start with the prefix', async () => {
    sageMaker
      .on(ListModelsCommand)
      .resolvesOnce({
        Models: [{ ModelName: 'tfbp-dev-a', CreationTime: new Date(1), ModelArn: 'x' }],
        NextToken: 'n',
      })
      .resolvesOnce({
        Models: [{ ModelName: 'other-tfbp-dev-b', CreationTime: new Date(2), ModelArn: 'y' }],
      });
    sageMaker.on(ListEndpointsCommand).resolves({ Endpoints: [] });
    sageMaker.on(ListEndpointConfigsCommand).resolves({ EndpointConfigs: [] });
    const found = await new AwsSageMakerResources(new SageMakerClient({ region: 'eu-west-1' })).list(
      'tfbp-dev-',
    );
    expect(found).toEqual([{ kind: 'model', name: 'tfbp-dev-a', createdAt: new Date(1) }]);
  });

  it('deletes each kind with its own call', async () => {
    sageMaker.on(DeleteModelCommand).resolves({});
    sageMaker.on(DeleteEndpointCommand).resolves({});
    const adapter = new AwsSageMakerResources(new SageMakerClient({ region: 'eu-west-1' }));
    await adapter.delete({ kind: 'model', name: 'tfbp-dev-a', createdAt: new Date(0) });
    await adapter.delete({ kind: 'endpoint', name: 'tfbp-dev-e', createdAt: new Date(0) });
    expect(sageMaker.commandCalls(DeleteModelCommand)[0]?.args[0].input).toEqual({ ModelName: 'tfbp-dev-a' });
    expect(sageMaker.commandCalls(DeleteEndpointCommand)[0]?.args[0].input).toEqual({
      EndpointName: 'tfbp-dev-e',
    });
  });
});

describe('StepFunctionsRunningExecutions', () => {
  it('names every running execution, over pages', async () => {
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({
        executions: [
          { name: 'a', executionArn: '1', stateMachineArn: 's', status: 'RUNNING', startDate: new Date() },
        ],
        nextToken: 't',
      })
      .resolvesOnce({
        executions: [
          { name: 'b', executionArn: '2', stateMachineArn: 's', status: 'RUNNING', startDate: new Date() },
        ],
      });
    const running = await new StepFunctionsRunningExecutions(
      'arn:sm',
      new SFNClient({ region: 'eu-west-1' }),
    ).running();
    expect(running).toEqual(['a', 'b']);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toMatchObject({
      statusFilter: 'RUNNING',
    });
  });
});
