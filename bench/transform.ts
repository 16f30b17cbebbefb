/**
 * The local SageMaker's transform job over many small objects, as whole-object jobs and jobs of many
 * tiny inputs make them: BENCH_OBJECTS (2,000) objects of one iris record each, SingleRecord,
 * MaxConcurrentTransforms 8, against the local model server on the bundled iris sample, run in this
 * process as `pipeline run` runs it. The baseline is the same requests sent straight to that server at
 * the same concurrency, so the ratio is what the transform job itself costs. The two alternate over
 * BENCH_TRIALS trials (3); the ratio is the median. Prints one JSON object per line:
 * {"name", "value", "unit", "baseline", "ratio"}.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalObjectStore } from '../src/adapters/local-store.ts';
import { writeText } from '../src/core/ports/object-store.ts';
import { startModelServer } from '../src/local/model-server/server.ts';
import { ContainerClient } from '../src/local/sagemaker/container-client.ts';
import { LocalSageMaker } from '../src/local/sagemaker/index.ts';
import { discard } from './trash.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const objects = Number(process.env.BENCH_OBJECTS ?? 2_000);
const trials = Number(process.env.BENCH_TRIALS ?? 3);
const CONCURRENCY = 8;
const RECORD = '[6.7, 3.0, 5.2, 2.3]';

const work = mkdtempSync(join(tmpdir(), 'bench-transform-'));
const server = await startModelServer({ model: join(root, 'samples/models/iris'), log: () => undefined });
try {
  const store = new LocalObjectStore(work);
  const width = String(objects).length;
  for (let k = 0; k < objects; k++) {
    await writeText(store, `in/part-${String(k).padStart(width, '0')}.jsonl`, `${RECORD}\n`);
  }
  const sageMaker = new LocalSageMaker({
    store,
    keyOf: (url) => url.replace(/^s3:\/\/bench\/?/, ''),
    models: { start: async () => ({ url: server.url, close: async () => undefined }) },
  });
  await sageMaker.createModel({
    ModelName: 'iris',
    PrimaryContainer: { Image: 'tfs', ModelDataUrl: 'iris' },
  });
  await direct(8 * CONCURRENCY);
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    baseline.push(await direct(objects));
    const started = performance.now();
    await sageMaker.createTransformJob({
      TransformJobName: `bench-${trial}`,
      ModelName: 'iris',
      BatchStrategy: 'SingleRecord',
      MaxPayloadInMB: 6,
      MaxConcurrentTransforms: CONCURRENCY,
      TransformInput: {
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://bench/in/' } },
        ContentType: 'application/json',
        SplitType: 'Line',
      },
      TransformOutput: { S3OutputPath: `s3://bench/out-${trial}/`, AssembleWith: 'Line' },
      TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
    });
    ours.push(objects / ((performance.now() - started) / 1000));
  }
  await sageMaker.close();
  print({
    name: `transform job over ${objects} objects of one record, SingleRecord, MaxConcurrentTransforms ${CONCURRENCY}`,
    value: Math.round(median(ours)),
    unit: 'objects/s',
    baseline: `the same requests straight to the model server: ${Math.round(median(baseline))} requests/s`,
    ratio: ratio(ours, baseline),
  });
} finally {
  await server.close();
  discard(work);
}

/** Sends `count` requests of one record straight to the model server at CONCURRENCY; requests/s. */
async function direct(count: number): Promise<number> {
  const client = new ContainerClient(server.url);
  const signal = new AbortController().signal;
  const body = Buffer.from(RECORD);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) {
        const answer = await client.send('POST', '/invocations', {
          body,
          headers: { 'Content-Type': 'application/json' },
          timeoutMs: 60_000,
          signal,
        });
        if (answer.status !== 200) throw new Error(`/invocations answered ${answer.status}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  client.close();
  return count / seconds;
}

function ratio(ours: readonly number[], baseline: readonly number[]): number {
  return Math.round(median(ours.map((value, k) => value / (baseline[k] ?? value))) * 100) / 100;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
