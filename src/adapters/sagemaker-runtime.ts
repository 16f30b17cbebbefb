import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { EndpointInvocationError } from '../core/errors.ts';
import type { EndpointInvoker, EndpointRequest } from '../core/ports/endpoints.ts';

/** Errors SageMaker Runtime names as worth another try: capacity, throttling, its own faults. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalDependencyException',
  'ModelNotReadyException',
  'TimeoutError',
]);

/** InvokeEndpoint through SageMaker Runtime; the retries are the caller's (ModelClientConfig), not the SDK's. */
export class SageMakerRuntimeEndpoints implements EndpointInvoker {
  private readonly client: SageMakerRuntimeClient;

  constructor(client = new SageMakerRuntimeClient({ maxAttempts: 1 })) {
    this.client = client;
  }

  async invokeEndpoint(request: EndpointRequest): Promise<Buffer> {
    try {
      const response = await this.client.send(
        new InvokeEndpointCommand({
          EndpointName: request.endpoint,
          Body: request.body,
          ContentType: request.contentType,
          Accept: request.accept,
        }),
        { abortSignal: AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]) },
      );
      return Buffer.from(response.Body ?? new Uint8Array());
    } catch (error) {
      if (request.signal.aborted) throw error;
      const { name, message } = error as Error;
      // ModelError: the container answered with an error status; a 5xx or 429 may pass another time.
      const status = (error as { OriginalStatusCode?: number }).OriginalStatusCode;
      const retryable =
        RETRYABLE.has(name) ||
        name === 'AbortError' ||
        (name === 'ModelError' && status !== undefined && (status >= 500 || status === 429));
      throw new EndpointInvocationError(`${name}: ${message}`, retryable, { cause: error });
    }
  }
}
