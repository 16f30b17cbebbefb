import type { Executions } from '../../src/core/ports/executions.ts';

/** Executions kept in memory by name, as Step Functions keeps them: a name starts once. */
export class NamedExecutions implements Executions {
  readonly byName = new Map<string, Record<string, unknown>>();

  async start(
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionArn: string; started: boolean }> {
    const started = !this.byName.has(name);
    if (started) this.byName.set(name, input);
    return { executionArn: `arn:aws:states:eu-west-1:1:execution:p:${name}`, started };
  }
}
