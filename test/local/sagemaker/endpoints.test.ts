import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import type { EndpointRequest } from '../../../src/core/ports/endpoints.ts';
import { LocalSageMaker } from '../../../src/local/sagemaker/index.ts';
import type { ModelContainer, ModelHost } from '../../../src/local/sagemaker/model-host-port.ts';
import { ResourceRegistry } from '../../../src/local/sagemaker/registry.ts';
import { FakeModelHost } from './container.ts';

// The local SageMaker's endpoints, over model containers that echo each record (real HTTP servers).

let store: LocalObjectStore;
let host: FakeModelHost;
let registry: ResourceRegistry;
let sageMaker: LocalSageMaker;

beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'local-endpoints-')));
  host = new FakeModelHost();
  registry = new ResourceRegistry(store.root);
  sageMaker = new LocalSageMaker({ store, keyOf: (url) => url, models: host, registry });
  await sageMaker.createModel({
    ModelName: 'iris',
    PrimaryContainer: { Image: 'tfs', ModelDataUrl: './models/iris', Environment: { MODEL_ONLY: 'm' } },
  });
});

afterEach(async () => {
  await sageMaker.close();
  await host.closeAll();
});

async function serverlessEndpoint(name: string, maxConcurrency = 5): Promise<void> {
  await sageMaker.createEndpointConfig({
    EndpointConfigName: name,
    ProductionVariants: [
      {
        VariantName: 'AllTraffic',
        ModelName: 'iris',
        ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: maxConcurrency },
      },
    ],
  });
  await sageMaker.createEndpoint({ EndpointName: name, EndpointConfigName: name });
}

function request(endpoint: string, body: string): EndpointRequest {
  return {
    endpoint,
    body: Buffer.from(body),
    contentType: 'application/jsonlines',
    accept: 'application/jsonlines',
    timeoutMs: 5000,
    signal: new AbortController().signal,
  };
}

describe('local endpoints', () => {
  it('serve the model of their config from a model server, until deleted', async () => {
    // Act
    await serverlessEndpoint('tfbp-e1');
    const answer = await sageMaker.invokeEndpoint(request('tfbp-e1', '[1,2]\n[3,4]'));
    // Assess
    expect(JSON.parse(answer.toString('utf8'))).toEqual({ predictions: ['[1,2]', '[3,4]'] });
    expect(await sageMaker.describeEndpoint({ EndpointName: 'tfbp-e1' })).toMatchObject({
      EndpointName: 'tfbp-e1',
      EndpointArn: 'arn:aws:sagemaker:us-east-1:000000000000:endpoint/tfbp-e1',
      EndpointConfigName: 'tfbp-e1',
      EndpointStatus: 'InService',
    });
    expect(host.started.map(({ container }) => container.environment)).toEqual([{ MODEL_ONLY: 'm' }]);
    expect(host.invocations[0]?.accept).toBe('application/jsonlines');
    expect(sageMaker.endpoints()).toEqual({ endpoints: ['tfbp-e1'], endpointConfigs: ['tfbp-e1'] });
    expect([registry.names('endpoint'), registry.names('endpoint-config')]).toEqual([
      ['tfbp-e1'],
      ['tfbp-e1'],
    ]);

    await sageMaker.deleteEndpoint({ EndpointName: 'tfbp-e1' });
    await sageMaker.deleteEndpointConfig({ EndpointConfigName: 'tfbp-e1' });
    expect(sageMaker.endpoints()).toEqual({ endpoints: [], endpointConfigs: [] });
    expect([registry.names('endpoint'), registry.names('endpoint-config')]).toEqual([[], []]);
    await expect(sageMaker.invokeEndpoint(request('tfbp-e1', '[1]'))).rejects.toMatchObject({
      name: 'EndpointInvocationError',
      retryable: false,
      message: 'ValidationError: Endpoint tfbp-e1 of account 000000000000 not found.',
    });
  });

  it('refuse what SageMaker refuses, named as Step Functions names it', async () => {
    const config = (name: string, model: string) =>
      sageMaker.createEndpointConfig({
        EndpointConfigName: name,
        ProductionVariants: [
          {
            VariantName: 'v',
            ModelName: model,
            ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 1 },
          },
        ],
      });
    await expect(config('c1', 'nope')).rejects.toMatchObject({
      name: 'SageMaker.AmazonSageMakerException',
      message: expect.stringContaining('Could not find model'),
    });
    await config('c1', 'iris');
    await expect(config('C1', 'iris')).rejects.toThrow(
      'Cannot create already existing endpoint configuration',
    );
    await expect(
      sageMaker.createEndpointConfig({
        EndpointConfigName: 'c2',
        ProductionVariants: [
          {
            VariantName: 'v',
            ModelName: 'iris',
            ServerlessConfig: { MemorySizeInMB: 1500, MaxConcurrency: 1 },
          },
        ],
      }),
    ).rejects.toThrow('MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120 or 6144.');
    await expect(sageMaker.createEndpoint({ EndpointName: 'e1', EndpointConfigName: 'c9' })).rejects.toThrow(
      'Could not find endpoint configuration',
    );
    await expect(sageMaker.describeEndpoint({ EndpointName: 'e9' })).rejects.toMatchObject({
      name: 'SageMaker.SageMakerException',
      message: expect.stringContaining(
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/e9"',
      ),
    });
    await expect(sageMaker.deleteEndpoint({ EndpointName: 'e9' })).rejects.toMatchObject({
      name: 'SageMaker.SageMakerException',
    });
    await expect(sageMaker.deleteEndpointConfig({ EndpointConfigName: 'c9' })).rejects.toMatchObject({
      name: 'SageMaker.SageMakerException',
    });
  });

  it('answer a model error as ModelError, retryable only when the model may answer another time', async () => {
    await serverlessEndpoint('tfbp-e2');
    host.behaviour.override = (n) =>
      n === 0 ? { status: 400, body: '{"error": "bad input"}' } : { status: 503, body: 'busy' };
    await expect(sageMaker.invokeEndpoint(request('tfbp-e2', '[1]'))).rejects.toMatchObject({
      retryable: false,
      message: 'ModelError: Received client error (400) from primary with message "{"error": "bad input"}"',
    });
    await expect(sageMaker.invokeEndpoint(request('tfbp-e2', '[1]'))).rejects.toMatchObject({
      retryable: true,
      message: 'ModelError: Received server error (503) from primary with message "busy"',
    });
  });

  it('throttle requests over a serverless endpoint MaxConcurrency', async () => {
    await serverlessEndpoint('tfbp-e3', 1);
    let release = (): void => undefined;
    host.behaviour.until = new Promise((resolve) => {
      release = resolve;
    });
    const arrived = new Promise<void>((resolve) => {
      host.behaviour.onInvocation = () => resolve();
    });
    const first = sageMaker.invokeEndpoint(request('tfbp-e3', '[1]'));
    await arrived;
    await expect(sageMaker.invokeEndpoint(request('tfbp-e3', '[2]'))).rejects.toMatchObject({
      retryable: true,
      message: 'ThrottlingException: endpoint tfbp-e3 is at its MaxConcurrency of 1',
    });
    release();
    expect(JSON.parse((await first).toString('utf8'))).toEqual({ predictions: ['[1]'] });
  });

  it('fail with the reason when the model server cannot start', async () => {
    const failing: ModelHost = {
      start: async (container: ModelContainer) => {
        throw new Error(`no model.onnx in ${container.modelDataUrl}`);
      },
    };
    const broken = new LocalSageMaker({ store, keyOf: (url) => url, models: failing });
    await broken.createModel({ ModelName: 'm', PrimaryContainer: { Image: 'tfs', ModelDataUrl: './empty' } });
    await broken.createEndpointConfig({
      EndpointConfigName: 'c',
      ProductionVariants: [
        { VariantName: 'v', ModelName: 'm', ServerlessConfig: { MemorySizeInMB: 1024, MaxConcurrency: 1 } },
      ],
    });
    await broken.createEndpoint({ EndpointName: 'e', EndpointConfigName: 'c' });
    expect(await broken.describeEndpoint({ EndpointName: 'e' })).toMatchObject({
      EndpointStatus: 'Failed',
      FailureReason: 'ClientError: the model server for model m could not start: no model.onnx in ./empty',
    });
    await broken.deleteEndpoint({ EndpointName: 'e' });
    await broken.close();
  });
});
