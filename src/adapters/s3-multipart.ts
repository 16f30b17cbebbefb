import { Upload } from '@aws-sdk/lib-storage';
import type { S3Upload } from './s3-store.ts';

/** Multipart uploads, parts sent as the stream fills them: objects of any size, in bounded memory. */
export const multipartUpload: S3Upload = ({ client, bucket, key, body }) => {
  const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: body } });
  return { done: upload.done(), abort: () => upload.abort() };
};
