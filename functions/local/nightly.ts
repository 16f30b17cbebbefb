import { requiredVariable } from '../../src/adapters/environment.ts';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { parseDatasets } from '../../src/core/triggers/nightly.ts';
import { perColdStart } from '../../src/handlers/lambda.ts';
import { createNightlyHandler } from '../../src/handlers/nightly.ts';

// `serverless invoke local --stage local`: PIPELINE_DATA_DIR plays the bucket and holds the queue.
export const handler = createNightlyHandler(
  perColdStart(() => {
    const dataDir = requiredVariable(process.env, 'PIPELINE_DATA_DIR');
    return {
      store: new LocalObjectStore(dataDir),
      executions: new LocalExecutions(dataDir),
      datasets: async () => parseDatasets(process.env.NIGHTLY_DATASETS || '[]', 'NIGHTLY_DATASETS'),
    };
  }),
);
