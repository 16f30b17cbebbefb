import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { multipartUpload } from '../src/adapters/s3-multipart.ts';
import { SageMakerRuntimeEndpoints } from '../src/adapters/sagemaker-runtime.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createScoreHandler } from '../src/handlers/score.ts';

export const handler = createScoreHandler(
  perColdStart(() => ({ store: bucketStore(multipartUpload), endpoints: new SageMakerRuntimeEndpoints() })),
);
