import { PassThrough, type Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ObjectNotFoundError, TransientStorageError } from '../core/errors.ts';
import type { ByteRange, ByteSink } from '../core/io.ts';
import type { ObjectStore, StoredObject } from '../core/ports/object-store.ts';

/**
 * How an object is uploaded from a stream of unknown length: multipart (s3-multipart.ts, for shards and
 * outputs of any size) or one PutObject (s3-put.ts, for the small objects the trigger functions write,
 * without the multipart library in their bundles). `done` settles once the object exists or the upload
 * failed; after `abort`, it rejects with an error named AbortError and leaves no object.
 */
export type S3Upload = (request: { client: S3Client; bucket: string; key: string; body: Readable }) => {
  readonly done: Promise<unknown>;
  abort(): Promise<void>;
};

export interface S3StoreOptions {
  readonly bucket: string;
  readonly upload: S3Upload;
  /** An existing client, or the configuration for a new one. */
  readonly client?: S3Client;
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * The S3 client for AWS, or for an S3-compatible endpoint (path-style addressing, and checksums only
 * where the API requires them: such servers may not understand the newer defaults).
 */
export function createS3Client(options: { endpoint?: string; region?: string } = {}): S3Client {
  const config: S3ClientConfig = { region: options.region ?? process.env.AWS_REGION ?? 'us-east-1' };
  if (options.endpoint) {
    Object.assign(config, {
      endpoint: options.endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
  return new S3Client(config);
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly upload: S3Upload;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? createS3Client(options);
    this.upload = options.upload;
  }

  async *read(key: string, range?: ByteRange): AsyncGenerator<Buffer> {
    if (range && range.end <= range.start) return;
    let body: AsyncIterable<Uint8Array>;
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // Both ends given: some S3-compatible servers mishandle the suffix form (bytes=-N).
          ...(range && { Range: `bytes=${range.start}-${range.end - 1}` }),
        }),
      );
      body = response.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(key, { cause: error });
      throw this.failure('read', key, error);
    }
    try {
      for await (const chunk of body) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } catch (error) {
      throw this.failure('read', key, error);
    }
  }

  async write(key: string): Promise<ByteSink> {
    const body = new PassThrough({ highWaterMark: 8 << 20 });
    const upload = this.upload({ client: this.client, bucket: this.bucket, key, body });
    const { done } = upload;
    // Surfaces a failed upload at the next write or at close, not as an unhandled rejection.
    let failure: unknown;
    done.catch((error: unknown) => {
      failure = this.failure('write', key, error);
      body.destroy();
    });
    return {
      async write(chunk) {
        if (failure) throw failure;
        if (!body.write(Buffer.from(chunk))) await new Promise((resolve) => body.once('drain', resolve));
      },
      async close() {
        body.end();
        await done.catch(() => {
          throw failure;
        });
      },
      async abort() {
        if (body.writableEnded) return;
        await upload.abort();
        body.destroy();
        // An aborted upload ends with an AbortError and leaves no object, nor any uploaded part.
        await done.then(undefined, (error: unknown) => {
          if ((error as Error).name !== 'AbortError') throw error;
        });
      },
    };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: response.ContentLength ?? 0,
        etag: response.ETag ?? '',
        lastModified: response.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey) return undefined;
      throw this.failure('head', key, error);
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
        .catch((error: unknown) => {
          throw this.failure('list', prefix, error);
        });
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          size: object.Size ?? 0,
          etag: object.ETag ?? '',
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const response = await this.client
        .send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        )
        .catch((error: unknown) => {
          throw this.failure('delete', prefix, error);
        });
      const failed = response.Errors ?? [];
      if (failed.length > 0) {
        const message = `could not delete ${failed.map((e) => `${e.Key} (${e.Code})`).join(', ')}`;
        throw failed.every((e) => TRANSIENT_CODES.has(e.Code ?? ''))
          ? new TransientStorageError(`s3://${this.bucket}/${prefix}: ${message}`)
          : new Error(message);
      }
      deleted += batch.length;
      batch = [];
    };
    for await (const object of this.list(prefix)) {
      batch.push(object.key);
      if (batch.length === 1000) await flush();
    }
    await flush();
    return deleted;
  }

  /** The error to throw for a failed call: TransientStorageError, naming the object, when it passes. */
  private failure(operation: string, key: string, error: unknown): unknown {
    if (!isTransient(error)) return error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new TransientStorageError(`${operation} s3://${this.bucket}/${key}: ${reason}`, { cause: error });
  }
}

/** S3 error codes that pass: throttling and server-side failures. */
const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestTimeout',
  'InternalError',
  'ServiceUnavailable',
]);

/** Connection failures that a later attempt may not meet. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const details = error as Error & { $fault?: string; code?: string };
  return (
    details.$fault === 'server' ||
    TRANSIENT_CODES.has(details.name) ||
    details.name === 'TimeoutError' ||
    NETWORK_CODES.has(details.code ?? '')
  );
}
