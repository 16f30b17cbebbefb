/** What the orphan sweeper sees of SageMaker: the service's models and endpoints, and their age. */
export interface SageMakerResource {
  readonly kind: 'model' | 'endpoint' | 'endpoint-config';
  readonly name: string;
  readonly createdAt: Date;
}

export interface SageMakerResources {
  /** Models, endpoints and endpoint configs whose names start with `prefix`. */
  list(prefix: string): Promise<SageMakerResource[]>;
  delete(resource: SageMakerResource): Promise<void>;
}

/** Which executions are still running, by name. */
export interface RunningExecutions {
  running(): Promise<string[]>;
}
