import { requiredVariable } from '../../src/adapters/environment.ts';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';
import { createIngestHandler } from '../../src/handlers/ingest.ts';
import { perColdStart } from '../../src/handlers/lambda.ts';

// `serverless invoke local --stage local`: the executions queued in PIPELINE_DATA_DIR/executions/.
export const handler = createIngestHandler(
  perColdStart(() => ({
    executions: new LocalExecutions(requiredVariable(process.env, 'PIPELINE_DATA_DIR')),
  })),
);
