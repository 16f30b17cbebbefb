import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { singlePutUpload } from '../src/adapters/s3-put.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createRouteHandler } from '../src/handlers/route.ts';

export const handler = createRouteHandler(perColdStart(() => ({ store: bucketStore(singlePutUpload) })));
