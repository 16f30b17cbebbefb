import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { multipartUpload } from '../../src/adapters/s3-multipart.ts';
import { SMALL_OBJECT_BYTES, singlePutUpload } from '../../src/adapters/s3-put.ts';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-store.ts';
import { mergeInput } from '../../src/core/merge/merger.ts';
import { readText, writeText } from '../../src/core/ports/object-store.ts';
import { shardInput } from '../../src/core/shard/sharder.ts';
import { type S3rver, startS3rver } from '../support/s3rver.ts';
import { objectStoreContract } from './object-store.contract.ts';

// A real S3-compatible server (s3rver) in its own process, on a free loopback port.
let server: S3rver;
let store: S3ObjectStore;

beforeAll(async () => {
  server = await startS3rver('pipeline');
  store = new S3ObjectStore({
    bucket: 'pipeline',
    upload: multipartUpload,
    client: createS3Client({ endpoint: server.endpoint }),
  });
}, 30_000);

afterAll(() => server.stop());

objectStoreContract('S3 (s3rver)', () => store);

describe('single PutObject uploads, for the functions that write only small objects', () => {
  const small = () =>
    new S3ObjectStore({
      bucket: 'pipeline',
      upload: singlePutUpload,
      client: createS3Client({ endpoint: server.endpoint }),
    });

  it('give back the bytes written, and nothing of an upload aborted', async () => {
    const sink = await small().write('state/nightly/iris.json');
    await sink.write(Buffer.from('{"newest":'));
    await sink.write(Buffer.from('"2026-11-22"}'));
    await sink.close();
    expect(await readText(store, 'state/nightly/iris.json')).toBe('{"newest":"2026-11-22"}');

    const aborted = await small().write('state/nightly/aborted.json');
    await aborted.write(Buffer.from('{"half'));
    await aborted.abort();
    expect(await store.head('state/nightly/aborted.json')).toBeUndefined();
  });

  it('refuse an object over the small-object limit, leaving none', async () => {
    const sink = await small().write('state/too-large.bin');
    const write = async () => {
      for (let sent = 0; sent <= SMALL_OBJECT_BYTES; sent += 1 << 20) await sink.write(Buffer.alloc(1 << 20));
      await sink.close();
    };
    await expect(write()).rejects.toThrow(`over ${SMALL_OBJECT_BYTES} bytes: too large for one upload`);
    expect(await store.head('state/too-large.bin')).toBeUndefined();
  });
});

describe('the record engine on S3', () => {
  it('shards an object and merges its outputs back, streaming both ways through the bucket', async () => {
    // Prepare: an input in the inbox, one bad line among 20000.
    const lines = Array.from({ length: 20_000 }, (_, k) =>
      k === 777 ? '{oops' : JSON.stringify({ id: k, features: [k, -k] }),
    );
    await writeText(store, 'inbox/data.jsonl', `${lines.join('\n')}\n`);
    const index = await shardInput(
      store.read('inbox/data.jsonl'),
      {
        input: 'data.jsonl',
        splitType: 'Line',
        decoding: 'json',
        inputFilter: '$.features',
        maxRecordBytes: 6 << 20,
        shardBytes: 50_000,
        requestPerLine: false,
      },
      {
        openShard: (n) => store.write(`work/job/shards/${n}.jsonl`),
        errors: await store.write('work/job/errors/data.jsonl'),
      },
    );
    // A model that answers each shard's instances, negated, in responses of 100.
    for (const shard of index.shards) {
      const instances = (await readText(store, `work/job/shards/${shard.shard}.jsonl`)).trim().split('\n');
      const responses: string[] = [];
      for (let k = 0; k < instances.length; k += 100) {
        const predictions = instances
          .slice(k, k + 100)
          .map((line) => (JSON.parse(line) as number[]).map((x) => -x));
        responses.push(JSON.stringify({ predictions }));
      }
      await writeText(store, `work/job/shards/${shard.shard}.jsonl.out`, `${responses.join('\n')}\n`);
    }
    // Act
    const summary = await mergeInput(
      index,
      { shardOutput: (n) => store.read(`work/job/shards/${n}.jsonl.out`) },
      { tfsMethod: 'predict', joinSource: 'None' },
      {
        out: await store.write('results/job/data.jsonl.out'),
        errors: await store.write('work/job/errors/merge.jsonl'),
      },
    );
    // Assess
    expect(index.shards.length).toBeGreaterThan(3);
    expect(summary).toMatchObject({ records: 20_000, out: 19_999, errors: 1 });
    const out = (await readText(store, 'results/job/data.jsonl.out')).trim().split('\n');
    expect(out[0]).toBe('[0,0]');
    expect(out[777]).toBe('[-778,778]');
    expect(JSON.parse(await readText(store, 'work/job/errors/data.jsonl'))).toMatchObject({
      record: 778,
      line: 778,
    });
    expect(await store.deletePrefix('work/job/')).toBe(2 * index.shards.length + 2);
  });
});

describe('failures that pass', () => {
  it('a connection cut while an object is read is a TransientStorageError naming it', async () => {
    const dying = await startS3rver('dying');
    try {
      const bucket = new S3ObjectStore({
        bucket: 'dying',
        upload: multipartUpload,
        client: createS3Client({ endpoint: dying.endpoint }),
      });
      await writeText(bucket, 'inbox/large.jsonl', 'x'.repeat(32 << 20));
      const chunks = bucket.read('inbox/large.jsonl')[Symbol.asyncIterator]();
      await chunks.next();

      dying.stop();

      const read = (async () => {
        for (let next = await chunks.next(); !next.done; next = await chunks.next());
      })();
      await expect(read).rejects.toMatchObject({
        name: 'TransientStorageError',
        message: expect.stringContaining('read s3://dying/inbox/large.jsonl'),
      });
    } finally {
      dying.stop();
    }
  });

  describe('throttling and server errors, after the client has retried', () => {
    const client = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(client);
    const bucket = new S3ObjectStore({ bucket: 'pipeline', upload: multipartUpload, client });
    const failure = (name: string, fault: 'client' | 'server', status: number) =>
      new S3ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: name });
    beforeEach(() => s3.reset());
    afterAll(() => s3.restore());

    it('are TransientStorageError, naming the object, so the state machine retries the step', async () => {
      s3.on(GetObjectCommand).rejects(failure('SlowDown', 'server', 503));
      s3.on(ListObjectsV2Command).rejects(failure('InternalError', 'server', 500));
      s3.on(HeadObjectCommand).rejects(failure('ThrottlingException', 'client', 400));

      await expect(readText(bucket, 'inbox/a.jsonl')).rejects.toMatchObject({
        name: 'TransientStorageError',
        message: 'read s3://pipeline/inbox/a.jsonl: SlowDown: SlowDown',
      });
      await expect(bucket.deletePrefix('work/job/')).rejects.toMatchObject({
        name: 'TransientStorageError',
        message: expect.stringContaining('list s3://pipeline/work/job/'),
      });
      await expect(bucket.head('inbox/a.jsonl')).rejects.toMatchObject({ name: 'TransientStorageError' });
    });

    it('leave other errors as S3 named them', async () => {
      s3.on(GetObjectCommand).rejects(failure('AccessDenied', 'client', 403));

      await expect(readText(bucket, 'inbox/a.jsonl')).rejects.toMatchObject({ name: 'AccessDenied' });
    });

    it('a delete that fails for some keys only because S3 was busy is transient too', async () => {
      s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'work/job/a' }, { Key: 'work/job/b' }] });
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [{ Key: 'work/job/b', Code: 'SlowDown' }] })
        .resolves({ Errors: [{ Key: 'work/job/b', Code: 'AccessDenied' }] });

      await expect(bucket.deletePrefix('work/job/')).rejects.toMatchObject({
        name: 'TransientStorageError',
        message: expect.stringContaining('work/job/b (SlowDown)'),
      });
      await expect(bucket.deletePrefix('work/job/')).rejects.toMatchObject({
        name: 'Error',
        message: 'could not delete work/job/b (AccessDenied)',
      });
    });
  });
});
