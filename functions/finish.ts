import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { multipartUpload } from '../src/adapters/s3-multipart.ts';
import { createFinishHandler } from '../src/handlers/finish.ts';
import { perColdStart } from '../src/handlers/lambda.ts';

export const handler = createFinishHandler(perColdStart(() => ({ store: bucketStore(multipartUpload) })));
