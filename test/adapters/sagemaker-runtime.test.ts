import {
  InvokeEndpointCommand,
  ModelError,
  SageMakerRuntimeClient,
  ServiceUnavailable,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SageMakerRuntimeEndpoints } from '../../src/adapters/sagemaker-runtime.ts';
import type { EndpointRequest } from '../../src/core/ports/endpoints.ts';

const runtime = mockClient(SageMakerRuntimeClient);
afterEach(() => runtime.reset());

const request = (signal = new AbortController().signal): EndpointRequest => ({
  endpoint: 'tfbp-dev-job',
  body: Buffer.from('[1,2]\n[3,4]'),
  contentType: 'application/jsonlines',
  accept: 'application/jsonlines',
  timeoutMs: 60_000,
  signal,
});

describe('SageMakerRuntimeEndpoints', () => {
  it('sends the request as InvokeEndpoint and answers the body', async () => {
    runtime.on(InvokeEndpointCommand).resolves({ Body: Buffer.from('{"predictions":[3,7]}') } as never);
    const body = await new SageMakerRuntimeEndpoints().invokeEndpoint(request());
    expect(body.toString('utf8')).toBe('{"predictions":[3,7]}');
    expect(runtime.commandCalls(InvokeEndpointCommand)[0]?.args[0].input).toEqual({
      EndpointName: 'tfbp-dev-job',
      Body: Buffer.from('[1,2]\n[3,4]'),
      ContentType: 'application/jsonlines',
      Accept: 'application/jsonlines',
    });
  });

  it('tells the failures another try may pass from those it cannot', async () => {
    const endpoints = new SageMakerRuntimeEndpoints();
    const failure = async (error: Error) => {
      runtime.on(InvokeEndpointCommand).rejects(error);
      return endpoints.invokeEndpoint(request()).catch((thrown: unknown) => thrown);
    };
    const metadata = { $metadata: {} };
    expect(
      await failure(new ModelError({ ...metadata, message: 'bad input', OriginalStatusCode: 400 })),
    ).toMatchObject({
      name: 'EndpointInvocationError',
      retryable: false,
      message: 'ModelError: bad input',
    });
    expect(
      await failure(new ModelError({ ...metadata, message: 'oom', OriginalStatusCode: 503 })),
    ).toMatchObject({
      retryable: true,
    });
    expect(await failure(new ServiceUnavailable({ ...metadata, message: 'later' }))).toMatchObject({
      retryable: true,
    });
    expect(
      await failure(Object.assign(new Error('slow down'), { name: 'ThrottlingException' })),
    ).toMatchObject({
      retryable: true,
    });
    expect(await failure(new ValidationError({ ...metadata, message: 'no endpoint' }))).toMatchObject({
      retryable: false,
    });
  });

  it('lets a stop through as it is', async () => {
    const controller = new AbortController();
    const stop = new Error('stopped');
    runtime.on(InvokeEndpointCommand).callsFake(() => {
      controller.abort();
      throw stop;
    });
    await expect(new SageMakerRuntimeEndpoints().invokeEndpoint(request(controller.signal))).rejects.toBe(
      stop,
    );
  });
});
