import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createRouteHandler } from '../src/handlers/route.ts';

export const handler = createRouteHandler(perColdStart(() => ({ store: bucketStore() })));
