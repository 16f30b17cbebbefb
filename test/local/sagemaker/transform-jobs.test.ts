import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateTransformJobRequest } from '@aws-sdk/client-sagemaker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { InvalidKeyError } from '../../../src/core/errors.ts';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import { encodeRecordIo } from '../../../src/core/records/recordio.ts';
import { encodeTfRecords } from '../../../src/core/records/tfrecord.ts';
import { LocalSageMaker } from '../../../src/local/sagemaker/index.ts';
import type { TransformProgress } from '../../../src/local/sagemaker/transform-jobs.ts';
import { FakeModelHost, recordsOf } from './container.ts';

const BUCKET = 's3://bucket';
const MB = 1024 * 1024;

let store: LocalObjectStore;
let host: FakeModelHost;
let progress: TransformProgress[];
let sageMaker: LocalSageMaker;

beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'local-sagemaker-')));
  host = new FakeModelHost();
  progress = [];
  sageMaker = new LocalSageMaker({
    store,
    keyOf: (url) => {
      if (url === BUCKET) return '';
      if (!url.startsWith(`${BUCKET}/`)) throw new InvalidKeyError(`${url} is not in ${BUCKET}`);
      return url.slice(BUCKET.length + 1);
    },
    models: host,
    onProgress: (event) => progress.push(event),
  });
  await sageMaker.createModel({
    ModelName: 'iris',
    PrimaryContainer: { Image: 'tfs', ModelDataUrl: './models/iris', Environment: { MODEL_ONLY: 'm' } },
  });
});

afterEach(async () => {
  await sageMaker.close();
  await host.closeAll();
});

interface JobOptions {
  input?: string;
  output?: string;
  splitType?: 'Line' | 'None' | 'TFRecord' | 'RecordIO';
  contentType?: string;
  assembleWith?: 'Line' | 'None';
}

/** A CreateTransformJob request as the state machine's Transform state passes it. */
function transformJob(
  name: string,
  options: JobOptions = {},
  overrides: Partial<CreateTransformJobRequest> = {},
): CreateTransformJobRequest {
  return {
    TransformJobName: name,
    ModelName: 'iris',
    BatchStrategy: 'MultiRecord',
    MaxPayloadInMB: 6,
    MaxConcurrentTransforms: 1,
    ModelClientConfig: { InvocationsTimeoutInSeconds: 600, InvocationsMaxRetries: 3 },
    Environment: {},
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: options.input ?? `${BUCKET}/in/` } },
      ContentType: options.contentType ?? 'application/jsonlines',
      SplitType: options.splitType ?? 'Line',
      CompressionType: 'None',
    },
    TransformOutput: {
      S3OutputPath: options.output ?? `${BUCKET}/out/`,
      Accept: 'application/jsonlines',
      AssembleWith: options.assembleWith ?? 'Line',
    },
    TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
    ...overrides,
  };
}

function lines(count: number, make = (n: number) => `{"x":${n}}`): string {
  return Array.from({ length: count }, (_, k) => `${make(k + 1)}\n`).join('');
}

/** The predictions of an output file, one array per request. */
async function responses(key: string): Promise<string[][]> {
  const text = await readText(store, key);
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => (JSON.parse(line) as { predictions: string[] }).predictions);
}

async function keys(prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.list(prefix)) found.push(object.key);
  return found;
}

/** Every file under the store's folder, including any left half-written. */
async function files(): Promise<string[]> {
  const entries = await readdir(store.root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

describe('LocalSageMaker transform jobs', () => {
  it('packs lines into requests under MaxPayloadInMB and writes one output line per request', async () => {
    // Prepare: 25 records of 100,000 bytes; ten of them and their newlines fit in 1 MB, eleven do not.
    const record = (n: number) => `"${String(n).padStart(99_998, '0')}"`;
    await writeText(store, 'in/a.jsonl', lines(25, record));
    // Act
    const result = await sageMaker.createTransformJob(transformJob('pack', {}, { MaxPayloadInMB: 1 }));
    // Assess
    expect(result).toMatchObject({
      TransformJobName: 'pack',
      TransformJobStatus: 'Completed',
      MaxPayloadInMB: 1,
    });
    expect(host.invocations.map((invocation) => recordsOf(invocation)?.length)).toEqual([10, 10, 5]);
    for (const invocation of host.invocations) {
      expect(invocation.body.length).toBeLessThanOrEqual(MB);
      expect(invocation.body.toString()).not.toMatch(/\n$/);
      expect(invocation.contentType).toBe('application/jsonlines');
      expect(invocation.accept).toBe('application/jsonlines');
    }
    const output = await responses('out/a.jsonl.out');
    expect(output.flat()).toEqual(Array.from({ length: 25 }, (_, k) => record(k + 1)));
    expect(output).toHaveLength(3);
  });

  it('sends one record per request with SingleRecord, CRLF or not', async () => {
    await writeText(store, 'in/a.csv', '1,2\r\n3,4\r\n\r\n5,6');
    await sageMaker.createTransformJob(
      transformJob('single', { contentType: 'text/csv' }, { BatchStrategy: 'SingleRecord' }),
    );
    expect(host.invocations.map((invocation) => invocation.body.toString())).toEqual(['1,2', '3,4', '5,6']);
    expect(await responses('out/a.csv.out')).toEqual([['1,2'], ['3,4'], ['5,6']]);
  });

  it('keeps outputs in input order when concurrent requests are answered out of order', async () => {
    await writeText(store, 'in/a.jsonl', lines(200));
    host.behaviour = { delayMs: (n) => ((n * 7) % 5) * 4 };
    await sageMaker.createTransformJob(
      transformJob('order', {}, { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 4 }),
    );
    expect(host.maxInFlight).toBe(4);
    expect(host.answered).not.toEqual([...host.answered].sort((a, b) => a - b));
    expect((await responses('out/a.jsonl.out')).flat()).toEqual(lines(200).trimEnd().split('\n'));
  });

  it('names each output after its input below the prefix, whatever the slashes', async () => {
    await writeText(store, 'data/in/a.jsonl', lines(1));
    await writeText(store, 'data/in/sub/b.jsonl', lines(2));
    await writeText(store, 'data/in/sub/deeper/c.jsonl', lines(3));
    await sageMaker.createTransformJob(
      transformJob('naming', { input: `${BUCKET}/data/in`, output: `${BUCKET}/results/out` }),
    );
    expect(await keys('results/')).toEqual([
      'results/out/a.jsonl.out',
      'results/out/sub/b.jsonl.out',
      'results/out/sub/deeper/c.jsonl.out',
    ]);
    expect((await responses('results/out/sub/deeper/c.jsonl.out')).flat()).toHaveLength(3);

    await sageMaker.createTransformJob(
      transformJob('one-object', { input: `${BUCKET}/data/in/sub/b.jsonl`, output: BUCKET }),
    );
    expect(await keys('b.')).toEqual(['b.jsonl.out']);
  });

  it('sends TFRecord records framed as TFRecord, and RecordIO records as RecordIO', async () => {
    const payloads = ['alpha', 'beta', 'gamma', 'delta'].map((word) => Buffer.from(word));
    const sink = await store.write('tf/a.tfrecord');
    await sink.write(encodeTfRecords(payloads));
    await sink.close();
    const recordIo = await store.write('rec/a.rec');
    await recordIo.write(encodeRecordIo(payloads));
    await recordIo.close();

    await sageMaker.createTransformJob(
      transformJob('tfrecord', {
        input: `${BUCKET}/tf/`,
        splitType: 'TFRecord',
        contentType: 'application/x-tfrecord',
      }),
    );
    await sageMaker.createTransformJob(
      transformJob(
        'recordio',
        { input: `${BUCKET}/rec/`, splitType: 'RecordIO', contentType: 'application/x-recordio' },
        { BatchStrategy: 'SingleRecord' },
      ),
    );

    expect(host.invocations[0]?.body).toEqual(encodeTfRecords(payloads));
    expect(await responses('out/a.tfrecord.out')).toEqual([['alpha', 'beta', 'gamma', 'delta']]);
    expect(host.invocations.slice(1).map((invocation) => invocation.body)).toEqual(
      payloads.map((payload) => encodeRecordIo([payload])),
    );
    expect(await responses('out/a.rec.out')).toEqual([['alpha'], ['beta'], ['gamma'], ['delta']]);
  });

  it('sends each whole object as one request with SplitType None', async () => {
    await writeText(store, 'in/a.txt', 'first\nsecond\n');
    await writeText(store, 'in/b.txt', 'third');
    await sageMaker.createTransformJob(
      transformJob('whole', { splitType: 'None', contentType: 'text/plain' }),
    );
    expect(host.invocations.map((invocation) => invocation.body.toString())).toEqual([
      'first\nsecond\n',
      'third',
    ]);
    expect(await responses('out/a.txt.out')).toEqual([['first', 'second']]);
    expect(await responses('out/b.txt.out')).toEqual([['third']]);
  });

  it('reads exactly the objects a ManifestFile lists, naming each output by its key below the prefix', async () => {
    await writeText(store, 'inbox/shots/a/1.txt', 'one');
    await writeText(store, 'inbox/shots/b/2.txt', 'two');
    await writeText(store, 'inbox/shots/unlisted.txt', 'not listed');
    const manifest = [{ prefix: `${BUCKET}/inbox/shots/` }, 'b/2.txt', 'a/1.txt'];
    await writeText(store, 'work/manifest.json', JSON.stringify(manifest));
    const request = transformJob('manifest', { splitType: 'None', contentType: 'text/plain' });
    const source = { S3DataType: 'ManifestFile' as const, S3Uri: `${BUCKET}/work/manifest.json` };
    await sageMaker.createTransformJob({
      ...request,
      TransformInput: { ...request.TransformInput, DataSource: { S3DataSource: source } },
    });
    expect(host.invocations.map((invocation) => invocation.body.toString())).toEqual(['two', 'one']);
    expect(await keys('out/')).toEqual(['out/a/1.txt.out', 'out/b/2.txt.out']);
    expect(await responses('out/a/1.txt.out')).toEqual([['one']]);
  });

  it('fails a job whose manifest is not a ManifestFile, saying what is wrong with it', async () => {
    const run = async (name: string, manifest: string) => {
      await writeText(store, `work/${name}.json`, manifest);
      const request = transformJob(name, { splitType: 'None' });
      const source = { S3DataType: 'ManifestFile' as const, S3Uri: `${BUCKET}/work/${name}.json` };
      return failure(
        sageMaker.createTransformJob({
          ...request,
          TransformInput: { ...request.TransformInput, DataSource: { S3DataSource: source } },
        }),
      );
    };
    expect((await run('not-json', '[{"prefix"')).message).toMatch(
      /^ClientError: ValidationError: the manifest file at S3 URL "s3:\/\/bucket\/work\/not-json.json" is not valid JSON/,
    );
    expect((await run('no-prefix', '["a.txt"]')).message).toContain(
      'does not start with {"prefix": "s3://..."}',
    );
    expect((await run('bad-key', `[{"prefix":"${BUCKET}/in/"}, "a.txt", 3]`)).message).toContain(
      'has an entry that is not an object key, at index 2',
    );
    expect((await run('empty', `[{"prefix":"${BUCKET}/in/"}]`)).message).toContain(
      'No S3 objects listed in the manifest',
    );
  });

  it('ends each response with one newline with AssembleWith Line, and concatenates them with None', async () => {
    await writeText(store, 'in/a.jsonl', lines(2));
    host.behaviour = { trailingNewline: true };
    await sageMaker.createTransformJob(transformJob('line-1', {}, { BatchStrategy: 'SingleRecord' }));
    host.behaviour = {};
    await sageMaker.createTransformJob(
      transformJob('line-2', { output: `${BUCKET}/bare/` }, { BatchStrategy: 'SingleRecord' }),
    );
    await sageMaker.createTransformJob(
      transformJob(
        'none',
        { output: `${BUCKET}/joined/`, assembleWith: 'None' },
        { BatchStrategy: 'SingleRecord' },
      ),
    );
    const expected = '{"predictions":["{\\"x\\":1}"]}\n{"predictions":["{\\"x\\":2}"]}\n';
    expect(await readText(store, 'out/a.jsonl.out')).toBe(expected);
    expect(await readText(store, 'bare/a.jsonl.out')).toBe(expected);
    expect(await readText(store, 'joined/a.jsonl.out')).toBe(expected.replaceAll('\n', ''));
  });

  it('retries a failing request and goes on when it succeeds', async () => {
    await writeText(store, 'in/a.jsonl', lines(4));
    host.behaviour = { override: (n) => (n < 2 ? { status: 503, body: 'warming up' } : undefined) };
    await sageMaker.createTransformJob(transformJob('retry', {}, { MaxPayloadInMB: 1 }));
    expect(host.invocations).toHaveLength(3);
    expect((await responses('out/a.jsonl.out')).flat()).toEqual(lines(4).trimEnd().split('\n'));
    expect(progress).toEqual([{ job: 'retry', records: 4, requests: 3 }]);
  });

  it('fails the job naming the input and its records once the retries are spent, leaving no output for it', async () => {
    // Prepare: a.jsonl takes requests 0-3 and b.jsonl's first record request 4; its second always fails.
    await writeText(store, 'in/a.jsonl', lines(4));
    await writeText(store, 'in/b.jsonl', lines(4));
    await writeText(store, 'in/c.jsonl', lines(2));
    host.behaviour = {
      override: (n) => (n >= 5 && n <= 8 ? { status: 500, body: 'model\n exploded' } : undefined),
    };
    // Act
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob('exhausted', {}, { BatchStrategy: 'SingleRecord', MaxPayloadInMB: 1 }),
      ),
    );
    // Assess
    expect(error.name).toBe('States.TaskFailed');
    expect(error.message).toBe(
      `ClientError: ${BUCKET}/in/b.jsonl: request for records 2-2 failed: 500 model exploded (after 4 attempts)`,
    );
    expect(error.status).toBe('Failed');
    expect(await keys('out/')).toEqual(['out/a.jsonl.out', 'out/c.jsonl.out']);
    expect((await files()).filter((file) => !file.endsWith('.jsonl') && !file.endsWith('.out'))).toEqual([]);
  });

  it('names the batch that failed among several', async () => {
    // Three records of 300,000 bytes fit in 1 MB, four do not.
    await writeText(
      store,
      'in/a.jsonl',
      lines(6, (n) => `"${String(n).padStart(299_998, '0')}"`),
    );
    host.behaviour = { override: (n) => (n >= 1 ? { status: 500, body: 'boom' } : undefined) };
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob(
          'batch',
          {},
          {
            MaxPayloadInMB: 1,
            ModelClientConfig: { InvocationsMaxRetries: 0, InvocationsTimeoutInSeconds: 60 },
          },
        ),
      ),
    );
    expect(error.message).toBe(`ClientError: ${BUCKET}/in/a.jsonl: request for records 4-6 failed: 500 boom`);
    expect(await keys('out/')).toEqual([]);
  });

  it('retries a request that times out, then fails the job', async () => {
    await writeText(store, 'in/a.jsonl', lines(2));
    host.behaviour = { override: () => 'hang' };
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob(
          'timeout',
          {},
          { ModelClientConfig: { InvocationsTimeoutInSeconds: 1, InvocationsMaxRetries: 1 } },
        ),
      ),
    );
    expect(error.name).toBe('States.TaskFailed');
    expect(error.message).toBe(
      `ClientError: ${BUCKET}/in/a.jsonl: request for records 1-2 failed: timed out after 1 s (after 2 attempts)`,
    );
    expect(host.invocations).toHaveLength(2);
    expect(await keys('out/')).toEqual([]);
  });

  it('does not retry a request the container refuses as malformed', async () => {
    await writeText(store, 'in/a.jsonl', lines(2));
    host.behaviour = { override: () => ({ status: 400, body: '{"error": "instances must be a list"}' }) };
    const error = await failure(sageMaker.createTransformJob(transformJob('refused')));
    expect(error.message).toBe(
      `ClientError: ${BUCKET}/in/a.jsonl: request for records 1-2 failed: 400 {"error": "instances must be a list"}`,
    );
    expect(host.invocations).toHaveLength(1);
  });

  it('fails the job naming a record larger than MaxPayloadInMB', async () => {
    await writeText(store, 'in/a.jsonl', `{"x":1}\n"${'y'.repeat(MB + 10)}"\n{"x":3}\n`);
    const error = await failure(
      sageMaker.createTransformJob(transformJob('too-large', {}, { MaxPayloadInMB: 1 })),
    );
    expect(error.name).toBe('States.TaskFailed');
    expect(error.message).toBe(
      `ClientError: ${BUCKET}/in/a.jsonl: record 2 cannot be sent: record is ${MB + 12} bytes, over the request limit of ${MB} bytes (maxPayloadInMB)`,
    );
    expect(await keys('out/')).toEqual([]);
  });

  it('fails the job naming a record that cannot be framed', async () => {
    const framed = encodeTfRecords([Buffer.from('good'), Buffer.from('spoilt')]);
    framed[framed.length - 1] = (framed[framed.length - 1] ?? 0) ^ 0xff;
    const sink = await store.write('tf/a.tfrecord');
    await sink.write(framed);
    await sink.close();
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob('crc', {
          input: `${BUCKET}/tf/`,
          splitType: 'TFRecord',
          contentType: 'application/x-tfrecord',
        }),
      ),
    );
    expect(error.message).toBe(
      `ClientError: ${BUCKET}/tf/a.tfrecord: record 2 cannot be read: TFRecord data CRC mismatch`,
    );
  });

  it('reports progress as requests complete, adding up to every record', async () => {
    await writeText(store, 'in/a.jsonl', lines(7));
    await writeText(store, 'in/b.jsonl', lines(5));
    await sageMaker.createTransformJob(
      transformJob('progress', {}, { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 3 }),
    );
    expect(progress.every((event) => event.job === 'progress' && event.requests === 1)).toBe(true);
    expect(progress.reduce((sum, event) => sum + event.records, 0)).toBe(12);
  });

  it('takes unset batch settings from the container, and passes the container its environment', async () => {
    await writeText(store, 'in/a.jsonl', lines(9));
    host.behaviour = {
      executionParameters: { MaxConcurrentTransforms: 3, BatchStrategy: 'SINGLE_RECORD', MaxPayloadInMB: 2 },
      delayMs: () => 5,
    };
    const request = transformJob('defaults', {}, { Environment: { MODEL_ONLY: 'job', JOB_ONLY: 'j' } });
    delete request.BatchStrategy;
    delete request.MaxPayloadInMB;
    request.MaxConcurrentTransforms = 0;
    const result = await sageMaker.createTransformJob(request);
    expect(result).toMatchObject({
      MaxConcurrentTransforms: 3,
      BatchStrategy: 'SingleRecord',
      MaxPayloadInMB: 2,
    });
    expect(host.invocations).toHaveLength(9);
    expect(host.maxInFlight).toBe(3);
    expect(host.started[0]?.container).toEqual({
      image: 'tfs',
      modelDataUrl: './models/iris',
      environment: { MODEL_ONLY: 'job', JOB_ONLY: 'j', SAGEMAKER_BATCH: 'true' },
    });
  });

  it('fails a job with no input objects', async () => {
    const error = await failure(sageMaker.createTransformJob(transformJob('empty')));
    expect(error.message).toBe(`ClientError: No S3 objects found under S3 URL "${BUCKET}/in/"`);
  });
});

/** `count` objects under in/, named part-000... so that key order is number order; `records(k)` lines each. */
async function manyObjects(count: number, records: (k: number) => number = () => 1): Promise<string[]> {
  const names = Array.from({ length: count }, (_, k) => `part-${String(k).padStart(3, '0')}.jsonl`);
  for (const [k, name] of names.entries()) {
    await writeText(
      store,
      `in/${name}`,
      lines(records(k), (n) => `{"object":${k},"record":${n}}`),
    );
  }
  return names;
}

/** The object a request of `manyObjects` came from. */
function objectOf(invocation: { body: Buffer }): number {
  return (JSON.parse(invocation.body.toString().split('\n')[0] ?? '') as { object: number }).object;
}

describe('LocalSageMaker transform jobs over many objects', () => {
  it('has up to MaxConcurrentTransforms requests out across objects of one request each', async () => {
    // Prepare: the first answers wait until eight requests, so eight objects, are out at once.
    const names = await manyObjects(40);
    let eightOut: () => void = () => undefined;
    host.behaviour = {
      until: new Promise<void>((resolve) => {
        eightOut = resolve;
      }),
      onInvocation: (n) => n === 7 && eightOut(),
    };
    // Act
    await sageMaker.createTransformJob(
      transformJob(
        'side-by-side',
        { splitType: 'None' },
        { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 8 },
      ),
    );
    // Assess
    expect(host.maxInFlight).toBe(8);
    expect(new Set(host.invocations.slice(0, 8).map(objectOf)).size).toBe(8);
    expect(await keys('out/')).toEqual(names.map((name) => `out/${name}.out`));
    for (const [k, name] of names.entries()) {
      expect(await responses(`out/${name}.out`)).toEqual([[`{"object":${k},"record":1}`]]);
    }
  });

  it("writes each object's answers in its record order while answers across objects come back in any order", async () => {
    // Prepare: objects of 1 to 12 records, one request each, answered after uneven delays.
    const records = (k: number) => 1 + ((k * 5) % 12);
    const names = await manyObjects(30, records);
    host.behaviour = { delayMs: (n) => ((n * 7) % 5) * 3 };
    // Act
    await sageMaker.createTransformJob(
      transformJob('in-order', {}, { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 6 }),
    );
    // Assess
    expect(host.answered).not.toEqual([...host.answered].sort((a, b) => a - b));
    expect(host.maxInFlight).toBeLessThanOrEqual(6);
    for (const [k, name] of names.entries()) {
      const expected = Array.from({ length: records(k) }, (_, r) => `{"object":${k},"record":${r + 1}}`);
      expect((await responses(`out/${name}.out`)).flat()).toEqual(expected);
    }
  });

  it('transforms the others when objects among many fail, and fails naming the first in key order and the count', async () => {
    // Prepare: objects 57 and 201 are refused; 57's refusal comes late, after the others' answers.
    const names = await manyObjects(300, (k) => 1 + (k % 3));
    host.behaviour = {
      delayMs: (n) => (objectOf(host.invocations[n] ?? { body: Buffer.from('{}') }) === 57 ? 30 : 0),
      override: (_, invocation) =>
        [57, 201].includes(objectOf(invocation))
          ? { status: 400, body: '{"error": "unreadable"}' }
          : undefined,
    };
    // Act
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob('some-fail', {}, { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 8 }),
      ),
    );
    // Assess
    expect(error.status).toBe('Failed');
    expect(error.message).toMatch(
      new RegExp(
        `^ClientError: ${BUCKET}/in/part-057\\.jsonl: request for records \\d-\\d failed: 400 \\{"error": "unreadable"\\} \\(2 of 300 inputs failed\\)$`,
      ),
    );
    const transformed = names.filter((_, k) => k !== 57 && k !== 201).map((name) => `out/${name}.out`);
    expect(await keys('out/')).toEqual(transformed);
    expect((await responses('out/part-200.jsonl.out')).flat()).toEqual([
      '{"object":200,"record":1}',
      '{"object":200,"record":2}',
      '{"object":200,"record":3}',
    ]);
    expect((await files()).filter((file) => file.endsWith('.partial'))).toEqual([]);
  });

  it('stops with many objects open, leaving no half-written output', async () => {
    await manyObjects(60);
    const arrived = new Promise<void>((resolve) => {
      host.behaviour = {
        override: (n) => (n >= 20 ? 'hang' : undefined),
        onInvocation: (n) => n === 23 && resolve(),
      };
    });
    const job = sageMaker.createTransformJob(
      transformJob('stop-many', { splitType: 'None' }, { MaxConcurrentTransforms: 4 }),
    );
    const outcome = failure(job);
    await arrived;

    expect(await sageMaker.stopTransformJob('stop-many')).toBe(true);

    const error = await outcome;
    expect(error.status).toBe('Stopped');
    expect(host.invocations).toHaveLength(24);
    expect((await keys('out/')).length).toBe(20);
    expect((await files()).filter((file) => file.endsWith('.partial'))).toEqual([]);
  });
});

describe('LocalSageMaker validation', () => {
  it('refuses MaxConcurrentTransforms × MaxPayloadInMB over 100 before starting anything', async () => {
    await writeText(store, 'in/a.jsonl', lines(1));
    const error = await failure(
      sageMaker.createTransformJob(
        transformJob('big', {}, { MaxConcurrentTransforms: 4, MaxPayloadInMB: 30 }),
      ),
    );
    expect(error.name).toBe('SageMaker.AmazonSageMakerException');
    expect(error.code).toBe('ValidationException');
    expect(error.message).toMatch(/^MaxConcurrentTransforms \(4\) × MaxPayloadInMB \(30\) is 120 MB/);
    expect(error.message).toContain('Error Code: ValidationException');
    expect(host.started).toEqual([]);
  });

  it('refuses an unknown model, a job name used before and settings out of range', async () => {
    await writeText(store, 'in/a.jsonl', lines(1));
    await sageMaker.createTransformJob(transformJob('once'));
    const reused = await failure(sageMaker.createTransformJob(transformJob('once')));
    expect(reused.message).toMatch(
      /^Job name must be unique .* \(arn:aws:sagemaker:.*:transform-job\/once\)/,
    );
    const unknown = await failure(
      sageMaker.createTransformJob(transformJob('other', {}, { ModelName: 'nope' })),
    );
    expect(unknown.message).toMatch(/^Could not find model "arn:aws:sagemaker:[^"]*:model\/nope"\./);
    const unlimited = await failure(
      sageMaker.createTransformJob(transformJob('unlimited', {}, { MaxPayloadInMB: 0 })),
    );
    expect(unlimited.message).toMatch(
      /^MaxPayloadInMB 0 \(no limit\) is only allowed with BatchStrategy SingleRecord/,
    );
    const retries = await failure(
      sageMaker.createTransformJob(
        transformJob(
          'retries',
          {},
          { ModelClientConfig: { InvocationsMaxRetries: 4, InvocationsTimeoutInSeconds: 1 } },
        ),
      ),
    );
    expect(retries.message).toMatch(
      /Value '4' at 'modelClientConfig.invocationsMaxRetries' failed to satisfy constraint: Member must have value less than or equal to 3/,
    );
    const named = await failure(sageMaker.createTransformJob(transformJob('bad_name')));
    expect(named.name).toBe('SageMaker.AmazonSageMakerException');
    expect(named.message).toContain("Value 'bad_name' at 'transformJobName'");
    const foreign = await failure(
      sageMaker.createTransformJob(transformJob('foreign', { input: 's3://other/in/' })),
    );
    expect(foreign.name).toBe('InvalidKeyError');
  });
});

describe('LocalSageMaker stopping', () => {
  it('stops a running job: its call rejects as Stopped and nothing half-written is left', async () => {
    await writeText(store, 'in/a.jsonl', lines(3));
    const arrived = new Promise<void>((resolve) => {
      host.behaviour = {
        override: (n) => (n === 1 ? 'hang' : undefined),
        onInvocation: (n) => n === 1 && resolve(),
      };
    });
    const job = sageMaker.createTransformJob(transformJob('stopped', {}, { BatchStrategy: 'SingleRecord' }));
    const outcome = failure(job);
    await arrived;

    expect(await sageMaker.stopTransformJob('stopped')).toBe(true);

    const error = await outcome;
    expect(error.name).toBe('States.TaskFailed');
    expect(error.status).toBe('Stopped');
    expect(error.message).toBe('Stopped: transform job stopped was stopped before it completed');
    expect(await keys('out/')).toEqual([]);
    expect((await files()).filter((file) => file !== 'a.jsonl')).toEqual([]);
    expect(await sageMaker.stopTransformJob('stopped')).toBe(false);
  });

  it('has nothing to stop once a job has finished, or for a job it never ran', async () => {
    await writeText(store, 'in/a.jsonl', lines(1));
    await sageMaker.createTransformJob(transformJob('done'));
    expect(await sageMaker.stopTransformJob('done')).toBe(false);
    expect(await sageMaker.stopTransformJob('never')).toBe(false);
    expect(await sageMaker.stopTrainingJob('never')).toBe(false);
  });
});

describe('LocalSageMaker models', () => {
  it('keeps one server per model for its jobs and closes it when the model is deleted', async () => {
    await writeText(store, 'in/a.jsonl', lines(1));
    await sageMaker.createModel({
      ModelName: 'other',
      PrimaryContainer: { Image: 'tfs', ModelDataUrl: './other' },
    });
    expect(sageMaker.models()).toEqual(['iris', 'other']);
    const duplicate = await failure(
      sageMaker.createModel({ ModelName: 'IRIS', PrimaryContainer: { Image: 'tfs', ModelDataUrl: './x' } }),
    );
    expect(duplicate.name).toBe('SageMaker.AmazonSageMakerException');
    expect(duplicate.message).toMatch(
      /^Cannot create already existing model "arn:aws:sagemaker:[^"]*:model\/iris"\./,
    );

    await sageMaker.createTransformJob(transformJob('first'));
    await sageMaker.createTransformJob(transformJob('second', { output: `${BUCKET}/again/` }));
    expect(host.started).toHaveLength(1);
    const server = host.started[0]?.server;
    expect(server?.listening).toBe(true);

    expect(await sageMaker.deleteModel({ ModelName: 'iris' })).toEqual({});
    expect(server?.listening).toBe(false);
    expect(sageMaker.models()).toEqual(['other']);
    const missing = await failure(sageMaker.deleteModel({ ModelName: 'iris' }));
    expect(missing.name).toBe('SageMaker.SageMakerException');
    expect(missing.message).toMatch(/^Could not find model "arn:aws:sagemaker:[^"]*:model\/iris"\./);
  });

  it('closes the server of a model deleted during a job when the job ends', async () => {
    await writeText(store, 'in/a.jsonl', lines(1));
    let answer = (): void => undefined;
    const arrived = new Promise<void>((resolve) => {
      host.behaviour = {
        onInvocation: () => resolve(),
        until: new Promise((release) => {
          answer = release;
        }),
      };
    });
    const job = sageMaker.createTransformJob(transformJob('in-use'));
    await arrived;
    await sageMaker.deleteModel({ ModelName: 'iris' });
    expect(host.started[0]?.server.listening).toBe(true);
    answer();
    await job;
    expect(host.started[0]?.server.listening).toBe(false);
    expect(sageMaker.models()).toEqual([]);
  });

  it('fails a training job that is not in script mode (see sagemaker/training.test.ts for those that are)', async () => {
    const error = await failure(
      sageMaker.createTrainingJob({
        TrainingJobName: 'package',
        OutputDataConfig: { S3OutputPath: `${BUCKET}/m/` },
        RoleArn: 'arn:aws:iam::000000000000:role/SageMaker',
        StoppingCondition: { MaxRuntimeInSeconds: 60 },
      }),
    );
    expect(error.name).toBe('States.TaskFailed');
    expect(error.message).toBe(
      'ClientError: local training runs script mode: the hyperparameters sagemaker_program and sagemaker_submit_directory are required',
    );
  });
});
