import { requiredVariable } from '../src/adapters/environment.ts';
import { StepFunctionsExecutions } from '../src/adapters/sfn-executions.ts';
import { createIngestHandler } from '../src/handlers/ingest.ts';
import { perColdStart } from '../src/handlers/lambda.ts';

export const handler = createIngestHandler(
  perColdStart(() => ({
    executions: new StepFunctionsExecutions(requiredVariable(process.env, 'STATE_MACHINE_ARN')),
  })),
);
