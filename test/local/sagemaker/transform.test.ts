import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import { LOCAL_BUCKET, LocalModelHost } from '../../../src/local/model-host.ts';
import { LocalSageMaker } from '../../../src/local/sagemaker/index.ts';

const irisModel = fileURLToPath(new URL('../../../samples/models/iris', import.meta.url));
const BUCKET = `s3://${LOCAL_BUCKET}/`;
const OBJECTS = 1_200;
const CONCURRENCY = 8;

let dataDir: string;
let host: LocalModelHost;
let sageMaker: LocalSageMaker;
let samples: { descriptors: number; threads: number }[];

const openDescriptors = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'transform-many-'));
  host = new LocalModelHost({ dataDir });
  samples = [];
  sageMaker = new LocalSageMaker({
    store: new LocalObjectStore(dataDir),
    keyOf: (url) => url.slice(BUCKET.length),
    models: host,
    onProgress: () => samples.push({ descriptors: openDescriptors(), threads: threads() }),
  });
  await sageMaker.createModel({
    ModelName: 'iris',
    PrimaryContainer: { Image: 'tfs', ModelDataUrl: irisModel },
  });
});

afterEach(async () => {
  await sageMaker.close();
  await host.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a transform job over many objects against the local model server', () => {
  it('transforms every one of 1,200 shard objects with descriptors and threads bounded', async () => {
    // Prepare: one iris row per object, as many tiny inputs packed one per shard make them.
    const store = new LocalObjectStore(dataDir);
    const name = (k: number) => `shard-${String(k).padStart(5, '0')}.jsonl`;
    for (let k = 0; k < OBJECTS; k++) {
      await writeText(store, `work/shards/${name(k)}`, `[${(k % 8) + 1}, 3.0, ${k % 7}, 0.2]\n`);
    }
    const before = { descriptors: openDescriptors(), threads: threads() };

    // Act
    const result = await sageMaker.createTransformJob({
      TransformJobName: 'many-objects',
      ModelName: 'iris',
      BatchStrategy: 'SingleRecord',
      MaxPayloadInMB: 6,
      MaxConcurrentTransforms: CONCURRENCY,
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `${BUCKET}work/shards/` } },
        ContentType: 'application/json',
        SplitType: 'Line',
      },
      TransformOutput: { S3OutputPath: `${BUCKET}work/out/`, AssembleWith: 'Line' },
      TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
    });

    // Assess: every object has its answer, and what the job held open did not grow with the objects.
    expect(result.TransformJobStatus).toBe('Completed');
    expect(samples).toHaveLength(OBJECTS);
    for (const k of [0, 1, 599, OBJECTS - 1]) {
      const [line, ...rest] = (await readText(store, `work/out/${name(k)}.out`)).split('\n');
      expect(rest).toEqual(['']);
      expect((JSON.parse(line ?? '') as { predictions: number[][] }).predictions[0]).toHaveLength(3);
    }
    let outputs = 0;
    for await (const _ of store.list('work/out/')) outputs++;
    expect(outputs).toBe(OBJECTS);
    const most = (of: 'descriptors' | 'threads') => Math.max(...samples.map((sample) => sample[of]));
    // Each object open holds an input and an output file, each request a socket at either end.
    expect(most('descriptors') - before.descriptors).toBeLessThanOrEqual(4 * CONCURRENCY + 32);
    // The model server's worker threads and the I/O pool, whatever the number of objects.
    expect(most('threads') - before.threads).toBeLessThanOrEqual(32);
  });
});
