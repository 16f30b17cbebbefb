export interface ModelContainer {
  readonly image: string;
  readonly modelDataUrl: string;
  readonly environment: Record<string, string>;
}

export interface ModelServer {
  /** Base URL of a server that speaks the SageMaker container contract (/ping, /invocations). */
  readonly url: string;
  close(): Promise<void>;
}

export interface ModelHost {
  /**
   * Starts (or reuses) a server for the container's model and resolves once it answers /ping. Each
   * server started is closed once, when its model is deleted and no job uses it any more.
   */
  start(container: ModelContainer): Promise<ModelServer>;
}
