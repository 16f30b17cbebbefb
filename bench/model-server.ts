/**
 * The local model server as `pipeline serve` runs it, loaded from this process over loopback:
 * - requests per second through a pass-through code/inference.py (input_handler returns the body,
 *   output_handler the TFS answer) against the same requests to the same model without it: 10,000 small
 *   SingleRecord requests at concurrency 4 (BENCH_REQUESTS sets the count);
 * - 16 x 16 PNG images per second sent as {"b64": ...}, decoded and fed to a model, against the same
 *   requests with the pixels as arrays of numbers.
 * Each pair alternates over BENCH_TRIALS trials (3); the ratio is the median. Prints one JSON object per
 * line: {"name", "value", "unit", "baseline", "ratio"}.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { onnxModel, seededRandom } from '../src/local/onnx/model-file.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const trials = Number(process.env.BENCH_TRIALS ?? 3);
const CONCURRENCY = 4;
const IMAGE = 16;
const IMAGES_PER_REQUEST = 32;

const work = mkdtempSync(join(tmpdir(), 'bench-model-server-'));
try {
  await scriptBench();
  await imageBench();
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function scriptBench(): Promise<void> {
  const plain = join(work, 'iris');
  cpSync(join(root, 'samples/models/iris'), plain, { recursive: true });
  const scripted = join(work, 'iris-with-code');
  cpSync(plain, scripted, { recursive: true });
  mkdirSync(join(scripted, 'code'));
  writeFileSync(
    join(scripted, 'code', 'inference.py'),
    [
      'def input_handler(data, context):',
      '    return data.read()',
      '',
      'def output_handler(response, context):',
      '    return response.content, context.accept_header',
      '',
    ].join('\n'),
  );
  const body = Buffer.from('{"instances": [[6.7, 3.0, 5.2, 2.3]]}');
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    baseline.push(await throughput(plain, '/invocations', () => body, requests));
    ours.push(await throughput(scripted, '/invocations', () => body, requests));
  }
  print({
    name: `requests through a pass-through inference.py, ${requests} SingleRecord requests at concurrency ${CONCURRENCY}`,
    value: Math.round(median(ours)),
    unit: 'requests/s',
    baseline: `the same requests without inference.py: ${Math.round(median(baseline))} requests/s`,
    ratio: ratio(ours, baseline),
  });
}

async function imageBench(): Promise<void> {
  const model = join(work, 'pixels');
  mkdirSync(join(model, '1'), { recursive: true });
  const features = IMAGE * IMAGE * 3;
  writeFileSync(
    join(model, '1', 'model.onnx'),
    onnxModel({
      inputs: [{ name: 'image', dims: ['batch', IMAGE, IMAGE, 3] }],
      outputs: [{ name: 'score', dims: ['batch', 1] }],
      nodes: [
        { opType: 'Flatten', inputs: ['image'], outputs: ['flat'], attributes: { axis: { int: 1 } } },
        { opType: 'MatMul', inputs: ['flat', 'weights'], outputs: ['score'] },
      ],
      initializers: [
        {
          name: 'weights',
          dims: [features, 1],
          values: new Float32Array(features).fill(1 / (255 * features)),
        },
      ],
    }),
  );
  const random = seededRandom(7);
  const images = await Promise.all(
    Array.from({ length: 64 }, async () => {
      const pixels = Buffer.from(Array.from({ length: features }, () => Math.floor(random() * 256)));
      const png = await sharp(pixels, { raw: { width: IMAGE, height: IMAGE, channels: 3 } })
        .png()
        .toBuffer();
      const rows = Array.from({ length: IMAGE }, (_, y) =>
        Array.from({ length: IMAGE }, (_, x) =>
          Array.from(pixels.subarray((y * IMAGE + x) * 3, (y * IMAGE + x) * 3 + 3)),
        ),
      );
      return { b64: JSON.stringify({ b64: png.toString('base64') }), array: JSON.stringify(rows) };
    }),
  );
  const batch = (kind: 'b64' | 'array') => (k: number) => {
    const instances = Array.from(
      { length: IMAGES_PER_REQUEST },
      (_, i) => images[(k + i) % images.length]?.[kind],
    );
    return Buffer.from(`{"instances": [${instances.join(',')}]}`);
  };
  const count = Math.max(1, Math.round(requests / 25));
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    baseline.push(
      (await throughput(model, '/v1/models/pixels:predict', batch('array'), count)) * IMAGES_PER_REQUEST,
    );
    ours.push(
      (await throughput(model, '/v1/models/pixels:predict', batch('b64'), count)) * IMAGES_PER_REQUEST,
    );
  }
  print({
    name: `${IMAGE}x${IMAGE} PNG images as {"b64": ...} through pipeline serve, ${IMAGES_PER_REQUEST} a request, concurrency ${CONCURRENCY}`,
    value: Math.round(median(ours)),
    unit: 'images/s',
    baseline: `the same images as pixel arrays: ${Math.round(median(baseline))} images/s`,
    ratio: ratio(ours, baseline),
  });
}

/** Starts `pipeline serve` on the model, sends `count` requests at CONCURRENCY, and returns requests/s. */
async function throughput(
  model: string,
  path: string,
  body: (k: number) => Buffer,
  count: number,
): Promise<number> {
  const server = spawn(
    process.execPath,
    [join(root, 'bin/pipeline.js'), 'serve', '--model', model, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  try {
    const url = new URL(await firstLine(server));
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const send = (k: number) => post(agent, url, path, body(k));
    for (let k = 0; k < CONCURRENCY * 4; k++) await send(k);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) await send(next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    agent.destroy();
    return count / seconds;
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
}

function post(agent: Agent, url: URL, path: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${path} answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`pipeline serve exited with ${code}`)));
  });
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
