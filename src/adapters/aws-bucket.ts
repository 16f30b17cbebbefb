import { S3Client } from '@aws-sdk/client-s3';
import { requiredVariable } from './environment.ts';
import { createS3Client, S3ObjectStore, type S3Upload } from './s3-store.ts';

/**
 * The service's bucket (BUCKET), on S3 or on an S3-compatible endpoint (S3_ENDPOINT), uploading as the
 * function needs: multipart for the steps that write shards and outputs, one PutObject for the others.
 */
export function bucketStore(upload: S3Upload, environment: NodeJS.ProcessEnv = process.env): S3ObjectStore {
  const endpoint = environment.S3_ENDPOINT;
  return new S3ObjectStore({
    bucket: requiredVariable(environment, 'BUCKET'),
    upload,
    client: endpoint ? createS3Client({ endpoint }) : new S3Client({}),
  });
}
