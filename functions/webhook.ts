import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { requiredVariable } from '../src/adapters/environment.ts';
import { singlePutUpload } from '../src/adapters/s3-put.ts';
import { StepFunctionsExecutions } from '../src/adapters/sfn-executions.ts';
import { ssmSecret } from '../src/adapters/ssm-secret.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createWebhookHandler } from '../src/handlers/webhook.ts';

export const handler = createWebhookHandler(
  perColdStart(() => {
    const store = bucketStore(singlePutUpload);
    return {
      store,
      bucket: store.bucket,
      executions: new StepFunctionsExecutions(requiredVariable(process.env, 'STATE_MACHINE_ARN')),
      secret: ssmSecret(requiredVariable(process.env, 'WEBHOOK_SECRET_PARAMETER')),
    };
  }),
);
