import { bucketStore } from '../src/adapters/aws-bucket.ts';
import { multipartUpload } from '../src/adapters/s3-multipart.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createShardHandler } from '../src/handlers/shard.ts';

// No worker threads: a function's share of a core is small.
export const handler = createShardHandler(perColdStart(() => ({ store: bucketStore(multipartUpload) })));
