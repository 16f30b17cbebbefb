import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type {
  RunningExecutions,
  SageMakerResource,
  SageMakerResources,
} from '../core/ports/sagemaker-resources.ts';

export class AwsSageMakerResources implements SageMakerResources {
  private readonly client: SageMakerClient;

  constructor(client = new SageMakerClient({})) {
    this.client = client;
  }

  async list(prefix: string): Promise<SageMakerResource[]> {
    const found: SageMakerResource[] = [];
    const keep = (
      kind: SageMakerResource['kind'],
      name: string | undefined,
      createdAt: Date | undefined,
    ): void => {
      if (name?.startsWith(prefix)) found.push({ kind, name, createdAt: createdAt ?? new Date(0) });
    };
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListModelsCommand({ NameContains: prefix, NextToken: token }));
      for (const model of page.Models ?? []) keep('model', model.ModelName, model.CreationTime);
      token = page.NextToken;
    } while (token);
    do {
      const page = await this.client.send(
        new ListEndpointsCommand({ NameContains: prefix, NextToken: token }),
      );
      for (const endpoint of page.Endpoints ?? [])
        keep('endpoint', endpoint.EndpointName, endpoint.CreationTime);
      token = page.NextToken;
    } while (token);
    do {
      const page = await this.client.send(
        new ListEndpointConfigsCommand({ NameContains: prefix, NextToken: token }),
      );
      for (const config of page.EndpointConfigs ?? [])
        keep('endpoint-config', config.EndpointConfigName, config.CreationTime);
      token = page.NextToken;
    } while (token);
    return found;
  }

  async delete(resource: SageMakerResource): Promise<void> {
    switch (resource.kind) {
      case 'model':
        await this.client.send(new DeleteModelCommand({ ModelName: resource.name }));
        return;
      case 'endpoint':
        await this.client.send(new DeleteEndpointCommand({ EndpointName: resource.name }));
        return;
      case 'endpoint-config':
        await this.client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: resource.name }));
        return;
    }
  }
}

export class StepFunctionsRunningExecutions implements RunningExecutions {
  private readonly client: SFNClient;
  private readonly stateMachineArn: string;

  constructor(stateMachineArn: string, client = new SFNClient({})) {
    this.stateMachineArn = stateMachineArn;
    this.client = client;
  }

  async running(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListExecutionsCommand({
          stateMachineArn: this.stateMachineArn,
          statusFilter: 'RUNNING',
          nextToken: token,
        }),
      );
      for (const execution of page.executions ?? []) if (execution.name) names.push(execution.name);
      token = page.nextToken;
    } while (token);
    return names;
  }
}
