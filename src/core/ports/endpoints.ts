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
