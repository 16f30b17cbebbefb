import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Executions } from '../core/ports/executions.ts';

/** Step Functions executions of one state machine; `ExecutionAlreadyExists` counts as started before. */
export class StepFunctionsExecutions implements Executions {
  private readonly client: SFNClient;
  private readonly stateMachineArn: string;

  constructor(stateMachineArn: string, client = new SFNClient({})) {
    this.stateMachineArn = stateMachineArn;
    this.client = client;
  }

  async start(
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionArn: string; started: boolean }> {
    try {
      const response = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: response.executionArn ?? '', started: true };
    } catch (error) {
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
      const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      return { executionArn, started: false };
    }
  }
}
