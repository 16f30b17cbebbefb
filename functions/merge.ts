import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { multipartUpload } from '../src/adapters/s3-multipart.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createMergeHandler } from '../src/handlers/merge.ts';

export const handler = createMergeHandler(perColdStart(() => ({ store: bucketStore(multipartUpload) })));
