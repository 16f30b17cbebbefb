import { PipelineError } from '../errors.ts';

/** One request to a SageMaker endpoint, as InvokeEndpoint takes it. */
export interface EndpointRequest {
  readonly endpoint: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly accept: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** Scores requests on a SageMaker endpoint: SageMaker Runtime in the cloud, the local model server locally. */
export interface EndpointInvoker {
  /** The response body; throws EndpointInvocationError when the endpoint or its model refuses or fails. */
  invokeEndpoint(request: EndpointRequest): Promise<Buffer>;
}

/**
 * A request the endpoint did not answer with success. `retryable` says whether sending the same bytes
 * again can succeed (throttling, a timeout, a 5xx from the model); a 4xx from the model cannot.
 */
export class EndpointInvocationError extends PipelineError {
  override readonly name = 'EndpointInvocationError';
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.retryable = retryable;
  }
}
