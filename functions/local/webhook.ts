import { requiredVariable } from '../../src/adapters/environment.ts';
import { LocalExecutions } from '../../src/adapters/local-executions.ts';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { perColdStart } from '../../src/handlers/lambda.ts';
import { createWebhookHandler } from '../../src/handlers/webhook.ts';
import { LOCAL_BUCKET } from '../../src/local/model-host.ts';

// `serverless invoke local --stage local`: PIPELINE_DATA_DIR plays the bucket, the secret is
// PIPELINE_WEBHOOK_SECRET.
export const handler = createWebhookHandler(
  perColdStart(() => {
    const dataDir = requiredVariable(process.env, 'PIPELINE_DATA_DIR');
    const secret = requiredVariable(process.env, 'PIPELINE_WEBHOOK_SECRET');
    return {
      store: new LocalObjectStore(dataDir),
      executions: new LocalExecutions(dataDir),
      bucket: LOCAL_BUCKET,
      secret: async () => secret,
    };
  }),
);
