import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { planConfig } from '../src/adapters/aws-plan-config.ts';
import { multipartUpload } from '../src/adapters/s3-multipart.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createPlanHandler } from '../src/handlers/plan.ts';

export const handler = createPlanHandler(
  perColdStart(() => ({ store: bucketStore(multipartUpload), config: planConfig() })),
);
