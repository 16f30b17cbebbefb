import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { planConfig } from '../src/adapters/aws-plan-config.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createPlanHandler } from '../src/handlers/plan.ts';

export const handler = createPlanHandler(
  perColdStart(() => ({ store: bucketStore(), config: planConfig() })),
);
