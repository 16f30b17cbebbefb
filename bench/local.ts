/**
 * Local mode's throughput: `npx pipeline run` over a generated JSON Lines file (500k records of 64
 * features by default; BENCH_RECORDS sets the count) scored by an MLP 64-256-10 with the input filter
 * `$.features`, against one process that reads the same file, parses the features and calls
 * onnxruntime directly in batches of 256, each timed as a whole process. The two take turns, several times; the ratio
 * printed is the median over the trials. Prints one JSON object per line:
 * {"name", "value", "unit", "baseline", "ratio"}.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { denseNetwork, randomDenseNetwork, seededRandom } from '../src/local/onnx/model-file.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const dataDir = process.env.BENCH_DIR ?? join(root, 'bench/.data');
const records = Number(process.env.BENCH_RECORDS ?? 500_000);
const trials = Number(process.env.BENCH_TRIALS ?? 3);
const FEATURES = 64;
const BATCH = 256;
const input = join(dataDir, `local-${records}.jsonl`);
const modelDir = join(dataDir, 'mlp-64-256-10');

const child = process.argv[2];
if (child === 'direct') {
  process.stdout.write(`${JSON.stringify(await direct(input))}\n`);
} else {
  await main();
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  await generate();
  const ratios: number[] = [];
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const direct = runDirect();
    const run = runPipeline();
    baseline.push(direct);
    ours.push(run);
    ratios.push(run / direct);
  }
  print({
    name: `npx pipeline run, ${records} JSON Lines records, MLP 64-256-10, inputFilter $.features`,
    value: Math.round(median(ours)),
    unit: 'records/s',
    baseline: `one process calling onnxruntime at batch ${BATCH}, timed whole: ${Math.round(median(baseline))} records/s`,
    ratio: Math.round(median(ratios) * 100) / 100,
  });
}

/** The baseline, timed as a whole process, as the pipeline is: start, model load, scoring, exit. */
function runDirect(): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'direct'], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`the direct baseline failed: ${result.stderr}`);
  const { scored } = JSON.parse(result.stdout) as { scored: number };
  if (scored !== records) throw new Error(`the baseline scored ${scored} of ${records} records`);
  return scored / seconds;
}

function runPipeline(): number {
  const out = join(dataDir, 'local-out');
  rmSync(out, { recursive: true, force: true });
  const job = join(dataDir, 'local.job.json');
  writeFileSync(job, JSON.stringify({ model: modelDir, dataProcessing: { inputFilter: '$.features' } }));
  const start = process.hrtime.bigint();
  // As users run it: through npx, from the project folder.
  const result = spawnSync('npx', ['pipeline', 'run', input, '--job', job, '--out', out, '--json'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`pipeline run failed: ${result.stderr}`);
  const summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { records?: { out: number } };
  if (summary.records?.out !== records)
    throw new Error(`pipeline run scored ${summary.records?.out} of ${records}`);
  return records / seconds;
}

/** The baseline: stream the file, JSON.parse each line, batch the features, run the session. */
async function direct(file: string): Promise<{ seconds: number; scored: number }> {
  const { InferenceSession, Tensor } = (await import('onnxruntime-node')).default;
  const session = await InferenceSession.create(join(modelDir, '1', 'model.onnx'));
  const start = process.hrtime.bigint();
  const batch = new Float32Array(BATCH * FEATURES);
  let rows = 0;
  let scored = 0;
  const flush = async () => {
    if (rows === 0) return;
    const output = await session.run({
      features: new Tensor('float32', batch.subarray(0, rows * FEATURES), [rows, FEATURES]),
    });
    scored += (output.probabilities?.dims[0] as number | undefined) ?? 0;
    rows = 0;
  };
  for await (const line of createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (line.length === 0) continue;
    const { features } = JSON.parse(line) as { features: number[] };
    batch.set(features, rows * FEATURES);
    rows++;
    if (rows === BATCH) await flush();
  }
  await flush();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, scored };
}

async function generate(): Promise<void> {
  if (!existsSync(join(modelDir, '1', 'model.onnx'))) {
    mkdirSync(join(modelDir, '1'), { recursive: true });
    writeFileSync(
      join(modelDir, '1', 'model.onnx'),
      denseNetwork(randomDenseNetwork({ sizes: [FEATURES, 256, 10], seed: 64 })),
    );
  }
  if (existsSync(input)) return;
  const random = seededRandom(7);
  const handle = await open(`${input}.partial`, 'w');
  let text = '';
  for (let k = 0; k < records; k++) {
    const features = Array.from({ length: FEATURES }, () => (random() * 2 - 1).toFixed(4));
    text += `{"id":${k},"features":[${features.join(',')}]}\n`;
    if (text.length > 1 << 20) {
      await handle.write(text);
      text = '';
    }
  }
  await handle.write(text);
  await handle.close();
  renameSync(`${input}.partial`, input);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
