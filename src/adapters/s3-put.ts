import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Upload } from './s3-store.ts';

/** The most a single PutObject upload holds in memory before it is sent. */
export const SMALL_OBJECT_BYTES = 5 * 1024 * 1024;

/**
 * One PutObject once the stream ends, for small objects (a job record, a nightly marker); an object
 * that grows past SMALL_OBJECT_BYTES fails rather than fill the function's memory.
 */
export const singlePutUpload: S3Upload = ({ client, bucket, key, body }) => {
  const controller = new AbortController();
  const done = (async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > SMALL_OBJECT_BYTES) {
        throw new RangeError(
          `s3://${bucket}/${key} is over ${SMALL_OBJECT_BYTES} bytes: too large for one upload`,
        );
      }
      chunks.push(chunk as Buffer);
    }
    controller.signal.throwIfAborted();
    return client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.concat(chunks) }), {
      abortSignal: controller.signal,
    });
  })().catch((error: unknown) => {
    // Destroying the stream on abort ends the read with its own error: the abort is what happened.
    throw controller.signal.aborted ? controller.signal.reason : error;
  });
  return {
    done,
    abort: async () => {
      controller.abort(Object.assign(new Error('upload aborted'), { name: 'AbortError' }));
      body.destroy();
    },
  };
};
