import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { requiredVariable } from '../src/adapters/environment.ts';
import { singlePutUpload } from '../src/adapters/s3-put.ts';
import { StepFunctionsExecutions } from '../src/adapters/sfn-executions.ts';
import { parseDatasets } from '../src/core/triggers/nightly.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createNightlyHandler } from '../src/handlers/nightly.ts';

export const handler = createNightlyHandler(
  perColdStart(() => {
    return {
      store: bucketStore(singlePutUpload),
      executions: new StepFunctionsExecutions(requiredVariable(process.env, 'STATE_MACHINE_ARN')),
      datasets: async () => parseDatasets(process.env.NIGHTLY_DATASETS || '[]', 'NIGHTLY_DATASETS'),
    };
  }),
);
