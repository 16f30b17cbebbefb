import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { singlePutUpload } from '../src/adapters/s3-put.ts';
import { AwsSageMakerJobs } from '../src/adapters/sagemaker-jobs.ts';
import { createCleanupHandler } from '../src/handlers/cleanup.ts';
import { perColdStart } from '../src/handlers/lambda.ts';

export const handler = createCleanupHandler(
  perColdStart(() => ({ store: bucketStore(singlePutUpload), jobs: new AwsSageMakerJobs() })),
);
