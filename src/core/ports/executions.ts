/** Starts state machine executions; the name makes a start idempotent. */
export interface Executions {
  /**
   * Starts an execution named `name`, or finds the one already started under that name: a repeated
   * start is a success, not an error, and starts nothing.
   */
  start(name: string, input: Record<string, unknown>): Promise<{ executionArn: string; started: boolean }>;
}
