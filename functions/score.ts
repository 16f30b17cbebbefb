import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { SageMakerRuntimeEndpoints } from '../src/adapters/sagemaker-runtime.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createScoreHandler } from '../src/handlers/score.ts';

export const handler = createScoreHandler(
  perColdStart(() => ({ store: bucketStore(), endpoints: new SageMakerRuntimeEndpoints() })),
);
