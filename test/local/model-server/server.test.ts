import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningModelServer, startModelServer } from '../../../src/local/model-server/server.ts';
import {
  type DenseNetwork,
  denseNetwork,
  type GraphNode,
  onnxModel,
} from '../../../src/local/onnx/model-file.ts';

const samples = (path: string) => fileURLToPath(new URL(`../../../samples/${path}`, import.meta.url));
const irisRecords = readFileSync(samples('iris.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { id: number; species: string; features: number[] });
const SPECIES = ['setosa', 'versicolor', 'virginica'];

interface Reply {
  status: number;
  body: unknown;
}

async function call(
  server: RunningModelServer,
  path: string,
  body?: string,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
): Promise<Reply> {
  const response = await fetch(
    `${server.url}${path}`,
    body === undefined ? {} : { method: 'POST', body, headers },
  );
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

const predictions = (reply: Reply) => (reply.body as { predictions: number[][] }).predictions;
const argmax = (row: readonly number[]) => row.indexOf(Math.max(...row));

/** One dense layer without activation, so answers are easy to tell apart. */
function linear(weights: number[], inputs: number, outputs: number, bias = 0): DenseNetwork {
  return {
    inputName: 'x',
    outputName: 'y',
    layers: [
      {
        weights: Float32Array.from(weights),
        bias: new Float32Array(outputs).fill(bias),
        inputs,
        outputs,
        activation: 'none',
      },
    ],
  };
}

let root: string;
let iris: RunningModelServer;

async function modelFolder(path: string, model: Uint8Array): Promise<void> {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), model);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-server-'));
  iris = await startModelServer({ model: samples('models/iris'), port: 0, workers: 2 });
});

afterAll(async () => {
  await iris.close();
  await rm(root, { recursive: true, force: true });
});

describe('the SageMaker container contract', () => {
  it('tells where it listens and what it serves', () => {
    expect(iris.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(iris).toMatchObject({ modelName: 'iris', version: 1 });
  });

  it('answers /ping and /execution-parameters', async () => {
    expect(await call(iris, '/ping')).toEqual({ status: 200, body: undefined });
    expect(await call(iris, '/execution-parameters')).toEqual({
      status: 200,
      body: { MaxConcurrentTransforms: 2, BatchStrategy: 'MULTI_RECORD', MaxPayloadInMB: 6 },
    });
  });

  it('scores JSON Lines, one prediction per line in order, telling the species apart', async () => {
    const lines = irisRecords.map((record) => `${JSON.stringify(record.features)}\n`).join('');

    const reply = await call(iris, '/invocations', lines, { 'Content-Type': 'application/jsonlines' });

    expect(reply.status).toBe(200);
    const rows = predictions(reply);
    expect(rows).toHaveLength(150);
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const right = rows.filter((row, k) => SPECIES[argmax(row)] === irisRecords[k]?.species).length;
    expect(right / 150).toBeGreaterThanOrEqual(0.95);
    // The same flowers asked one by one get the same answers: nothing is reordered.
    const single = await call(iris, '/invocations', JSON.stringify(irisRecords[120]?.features));
    expect(predictions(single)).toEqual([rows[120]]);
  });

  it('scores a TFS request sent as application/json, and CSV rows as the same instances', async () => {
    const csv = readFileSync(samples('iris.csv'), 'utf8');
    const instances = csv
      .trim()
      .split('\n')
      .map((line) => line.split(',').map(Number));

    const fromCsv = await call(iris, '/invocations', csv, { 'Content-Type': 'text/csv' });
    const fromJson = await call(iris, '/invocations', JSON.stringify({ instances }));

    expect(fromCsv.status).toBe(200);
    expect(predictions(fromCsv)).toHaveLength(instances.length);
    expect(fromCsv.body).toEqual(fromJson.body);
  });

  it('reads method, model and version from X-Amzn-SageMaker-Custom-Attributes', async () => {
    const example = JSON.stringify({ examples: [{ features: [6.7, 3.0, 5.2, 2.3] }] });
    const attributes = (value: string) => ({
      'Content-Type': 'application/json',
      'X-Amzn-SageMaker-Custom-Attributes': value,
    });

    const classified = await call(
      iris,
      '/invocations',
      example,
      attributes('tfs-method=classify,tfs-model-name=iris'),
    );
    expect(classified.status).toBe(200);
    const [results] = (classified.body as { results: [string, number][][] }).results;
    expect(results?.map(([label]) => label)).toEqual(['', '', '']);
    expect(argmax(results?.map(([, score]) => score) ?? [])).toBe(2);

    const versioned = await call(
      iris,
      '/invocations',
      '[6.7, 3.0, 5.2, 2.3]',
      attributes('tfs-model-version=1'),
    );
    expect(versioned.status).toBe(200);
    expect(await call(iris, '/invocations', '[1, 2, 3, 4]', attributes('tfs-model-name=mnist'))).toEqual({
      status: 404,
      body: { error: 'Servable not found for request: Latest(mnist)' },
    });
    expect(await call(iris, '/invocations', '[1, 2, 3, 4]', attributes('tfs-model-version=2'))).toEqual({
      status: 404,
      body: { error: 'Servable not found for request: Specific(iris, 2)' },
    });
  });

  it('refuses content types the TFS container does not read', async () => {
    expect(await call(iris, '/invocations', 'x', { 'Content-Type': 'image/jpeg' })).toEqual({
      status: 415,
      body: { error: 'Unsupported Media Type: image/jpeg' },
    });
  });
});

describe('the TFS REST API', () => {
  it('reports the model status and metadata', async () => {
    const available = {
      model_version_status: [
        { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    };
    expect(await call(iris, '/v1/models/iris')).toEqual({ status: 200, body: available });
    expect(await call(iris, '/v1/models/iris/versions/1')).toEqual({ status: 200, body: available });
    expect((await call(iris, '/v1/models/iris/versions/4')).status).toBe(404);

    const metadata = await call(iris, '/v1/models/iris/metadata');
    const dims = (sizes: string[]) => ({
      dim: sizes.map((size) => ({ size, name: size === '-1' ? 'batch' : '' })),
      unknown_rank: false,
    });
    expect(metadata.body).toEqual({
      model_spec: { name: 'iris', signature_name: '', version: '1' },
      metadata: {
        signature_def: {
          signature_def: {
            serving_default: {
              inputs: { features: { dtype: 'DT_FLOAT', tensor_shape: dims(['-1', '4']), name: 'features' } },
              outputs: {
                probabilities: { dtype: 'DT_FLOAT', tensor_shape: dims(['-1', '3']), name: 'probabilities' },
              },
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    });
  });

  it('predicts by model name and by version, in the row and the columnar format', async () => {
    const instances = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
    ];

    const byName = await call(iris, '/v1/models/iris:predict', JSON.stringify({ instances }));
    const byVersion = await call(iris, '/v1/models/iris/versions/1:predict', JSON.stringify({ instances }));
    const columnar = await call(iris, '/v1/models/iris:predict', JSON.stringify({ inputs: instances }));

    expect(byName.status).toBe(200);
    expect(predictions(byName).map(argmax)).toEqual([0, 2]);
    expect(byVersion.body).toEqual(byName.body);
    expect(columnar.body).toEqual({ outputs: predictions(byName) });
  });

  it('answers classify with scores, and no labels for a model without a string output', async () => {
    const reply = await call(
      iris,
      '/v1/models/iris:classify',
      JSON.stringify({ examples: [{ features: [5.1, 3.5, 1.4, 0.2] }] }),
    );

    expect(reply.status).toBe(200);
    const [results] = (reply.body as { results: [string, number][][] }).results;
    expect(results).toHaveLength(3);
    expect(results?.[0]?.[0]).toBe('');
    expect(results?.[0]?.[1]).toBeGreaterThan(0.9);
  });

  it('answers regress with one number per example', async () => {
    await modelFolder('sum/1/model.onnx', denseNetwork(linear([1, 1, 1, 1], 4, 1, 0.5)));
    const server = await startModelServer({ model: join(root, 'sum'), port: 0, workers: 1 });
    try {
      const examples = [{ x: [1, 2, 3, 4] }, { x: [0.25, 0, 0, 0] }];

      expect(await call(server, '/v1/models/sum:regress', JSON.stringify({ examples }))).toEqual({
        status: 200,
        body: { results: [10.5, 0.75] },
      });
    } finally {
      await server.close();
    }
  });

  it('feeds models of several inputs from objects keyed by input name, and answers the same way', async () => {
    const nodes: GraphNode[] = [
      { opType: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
      { opType: 'Mul', inputs: ['a', 'b'], outputs: ['product'] },
    ];
    await modelFolder(
      'pair/7/model.onnx',
      onnxModel({
        inputs: [
          { name: 'a', dims: ['n', 2] },
          { name: 'b', dims: ['n', 2] },
        ],
        outputs: [
          { name: 'sum', dims: ['n', 2] },
          { name: 'product', dims: ['n', 2] },
        ],
        nodes,
        initializers: [],
      }),
    );
    const server = await startModelServer({ model: join(root, 'pair'), port: 0, workers: 1 });
    try {
      const instances = [
        { a: [1, 2], b: [3, 4] },
        { b: [0.5, 0.5], a: [4, 6] },
      ];

      const rows = await call(server, '/v1/models/pair:predict', JSON.stringify({ instances }));
      const columns = await call(
        server,
        '/v1/models/pair/versions/7:predict',
        JSON.stringify({ inputs: { a: [[1, 2]], b: [[3, 4]] } }),
      );

      expect(rows).toEqual({
        status: 200,
        body: {
          predictions: [
            { sum: [4, 6], product: [3, 8] },
            { sum: [4.5, 6.5], product: [2, 3] },
          ],
        },
      });
      expect(columns.body).toEqual({ outputs: { sum: [[4, 6]], product: [[3, 8]] } });
    } finally {
      await server.close();
    }
  });

  it('answers unknown models, versions and routes with 404', async () => {
    const body = JSON.stringify({ instances: [[1, 2, 3, 4]] });

    expect(await call(iris, '/v1/models/mnist:predict', body)).toEqual({
      status: 404,
      body: { error: 'Servable not found for request: Latest(mnist)' },
    });
    expect(await call(iris, '/v1/models/iris/versions/3:predict', body)).toEqual({
      status: 404,
      body: { error: 'Servable not found for request: Specific(iris, 3)' },
    });
    expect(await call(iris, '/v1/models/mnist')).toEqual({
      status: 404,
      body: { error: 'Could not find any versions of model mnist' },
    });
    expect(await call(iris, '/v1/models/iris:explain', body)).toEqual({
      status: 404,
      body: { error: 'Malformed request: POST /v1/models/iris:explain' },
    });
  });
});

describe('the model folder', () => {
  it('serves every version, the highest by default, a SavedModel beside a model.onnx ignored', async () => {
    await modelFolder('scale/1/model.onnx', denseNetwork(linear([1], 1, 1)));
    await modelFolder('scale/2/model.onnx', denseNetwork(linear([2], 1, 1)));
    await modelFolder('scale/2/saved_model.pb', Uint8Array.of(0));
    const server = await startModelServer({ model: join(root, 'scale'), port: 0, workers: 1 });
    try {
      expect(server).toMatchObject({ modelName: 'scale', version: 2 });
      const body = JSON.stringify({ instances: [[3]] });
      expect((await call(server, '/v1/models/scale:predict', body)).body).toEqual({ predictions: [[6]] });
      expect((await call(server, '/v1/models/scale/versions/1:predict', body)).body).toEqual({
        predictions: [[3]],
      });
      expect((await call(server, '/v1/models/scale/versions/3:predict', body)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('refuses to start on a folder that is not in TFS layout, or on a file that is no model', async () => {
    await modelFolder('flat/model.onnx', denseNetwork(linear([1], 1, 1)));
    await modelFolder('broken/1/model.onnx', new TextEncoder().encode('not a model'));

    await expect(startModelServer({ model: join(root, 'flat'), port: 0 })).rejects.toMatchObject({
      name: 'ModelLayoutError',
    });
    await expect(
      startModelServer({ model: join(root, 'broken'), port: 0, workers: 1 }),
    ).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringContaining(join(root, 'broken', '1', 'model.onnx')),
    });
  });

  it('refuses to start on a model whose inputs are of a type it does not feed', async () => {
    await modelFolder(
      'tokens/1/model.onnx',
      onnxModel({
        inputs: [{ name: 'ids', dims: ['batch', 8], type: 'float16' }],
        outputs: [{ name: 'same', dims: ['batch', 8], type: 'float16' }],
        nodes: [{ opType: 'Identity', inputs: ['ids'], outputs: ['same'] }],
        initializers: [],
      }),
    );

    // Several times, with workers still loading when the first refuses: they must be let finish,
    // since a worker cut short inside onnxruntime takes the whole process down.
    for (let attempt = 0; attempt < 5; attempt++) {
      await expect(
        startModelServer({ model: join(root, 'tokens'), port: 0, workers: 4 }),
      ).rejects.toMatchObject({
        name: 'ModelLoadError',
        message: expect.stringContaining(
          '"ids" is float16; the local model server feeds and answers float32,',
        ),
      });
    }
  });
});

describe('bad requests', () => {
  it('get a 4xx with a TFS error body, and the server keeps answering', async () => {
    const bad: [string, string, string | RegExp][] = [
      ['/v1/models/iris:predict', '{"instances": [[1, 2, 3, 4]', /^JSON Parse error: /],
      ['/v1/models/iris:predict', '', 'JSON Parse error: The document is empty'],
      [
        '/v1/models/iris:predict',
        '{"instances": [[1, 2, 3]]}',
        'instances[0] has shape [3], but input "features" takes [4] per instance',
      ],
      [
        '/v1/models/iris:predict',
        '{"instances": [[1, 2, "3", 4]]}',
        'JSON Value: "3" Type: String is not of expected type: float (input "features", instances[0])',
      ],
      [
        '/invocations',
        '[1, 2, 3, 4]\n[5, 6, 7]\n',
        'instances[1] is not a dense tensor of shape [4] (its first elements give [3])',
      ],
      ['/invocations', '', "'instances' must be a non-empty list"],
    ];
    for (const [path, body, message] of bad) {
      const reply = await call(iris, path, body);
      expect(reply.status).toBe(400);
      expect((reply.body as { error: string }).error).toMatch(message);
    }

    const good = await call(
      iris,
      '/v1/models/iris:predict',
      JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    );
    expect(good.status).toBe(200);
    expect(predictions(good).map(argmax)).toEqual([0]);
  });

  it('a batch the model itself rejects does not stop its worker', async () => {
    // A model whose batch dimension is fixed at 2: onnxruntime refuses any other batch.
    await modelFolder(
      'pairs/1/model.onnx',
      onnxModel({
        inputs: [{ name: 'x', dims: [2, 3] }],
        outputs: [{ name: 'y', dims: [2, 3] }],
        nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
        initializers: [],
      }),
    );
    const server = await startModelServer({ model: join(root, 'pairs'), port: 0, workers: 2 });
    try {
      const rejected = await call(
        server,
        '/v1/models/pairs:predict',
        JSON.stringify({ instances: [[1, 2, 3]] }),
      );
      expect(rejected.status).toBe(400);
      expect((rejected.body as { error: string }).error).toMatch(/^the model cannot run on this request: /);

      // Both workers are still there: requests in parallel all get answers.
      const body = JSON.stringify({
        instances: [
          [-1, 0, 1],
          [2, -3, 4],
        ],
      });
      const replies = await Promise.all(
        Array.from({ length: 6 }, () => call(server, '/v1/models/pairs:predict', body)),
      );
      for (const reply of replies) {
        expect(reply).toEqual({
          status: 200,
          body: {
            predictions: [
              [0, 0, 1],
              [2, 0, 4],
            ],
          },
        });
      }
    } finally {
      await server.close();
    }
  });
});

describe('while a large batch is being scored', () => {
  it('answers /ping and small requests before the batch is done', async () => {
    await deepModel();
    const server = await startModelServer({ model: join(root, 'deep'), port: 0, workers: 2 });
    try {
      const order: string[] = [];

      // Act: send the large batch; once it is on the wire, ping, score one row, ping again.
      const { sent, answered } = post(`${server.url}/v1/models/deep:predict`, large);
      const scored = answered.then((reply) => {
        order.push('large batch');
        return reply;
      });
      await sent;
      for (const step of ['ping', 'one row', 'ping again']) {
        const reply =
          step === 'one row'
            ? await call(server, '/v1/models/deep:predict', JSON.stringify({ instances: [JSON.parse(row)] }))
            : await call(server, '/ping');
        expect(reply.status).toBe(200);
        order.push(step);
      }

      // Assess: everything small was answered while the batch was still being scored, and the batch
      // still got its answer.
      const reply = await scored;
      expect(order).toEqual(['ping', 'one row', 'ping again', 'large batch']);
      expect(reply.status).toBe(200);
      const rows = predictions(reply);
      expect(rows).toHaveLength(batch);
      expect(rows[batch - 1]?.[0]).toBeCloseTo(0.5, 4);
    } finally {
      await server.close();
    }
  });
});

describe('close', () => {
  it('waits for the batch a worker is running instead of cutting it short, and the process lives on', async () => {
    await deepModel();
    const server = await startModelServer({ model: join(root, 'deep'), port: 0, workers: 1 });
    const { sent, answered } = post(`${server.url}/v1/models/deep:predict`, large);
    await sent;
    // Time for the server to read the body (a few MB over loopback) and hand it to the worker.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cut = expect(answered).rejects.toThrow();

    await server.close();

    await cut;
    const again = await startModelServer({ model: join(root, 'deep'), port: 0, workers: 1 });
    try {
      expect((await call(again, '/ping')).status).toBe(200);
    } finally {
      await again.close();
    }
  });

  it('stops answering', async () => {
    const server = await startModelServer({ model: samples('models/iris'), workers: 1 });
    expect((await call(server, '/ping')).status).toBe(200);

    await server.close();

    await expect(fetch(`${server.url}/ping`)).rejects.toThrow();
  });
});

/** A deep stack of 512x512 layers sharing one weight matrix: a large batch keeps a worker busy a while. */
const width = 512;
const row = `[${Array.from({ length: width }, () => '0.5').join(',')}]`;
const batch = 2000;
const large = `{"instances":[${Array.from({ length: batch }, () => row).join(',')}]}`;

async function deepModel(): Promise<void> {
  const depth = 200;
  const nodes: GraphNode[] = [];
  for (let k = 0; k < depth; k++) {
    nodes.push({ opType: 'MatMul', inputs: [k === 0 ? 'x' : `h${k - 1}`, 'w'], outputs: [`h${k}`] });
  }
  nodes.push({ opType: 'MatMul', inputs: [`h${depth - 1}`, 'v'], outputs: ['y'] });
  await modelFolder(
    'deep/1/model.onnx',
    onnxModel({
      inputs: [{ name: 'x', dims: ['batch', width] }],
      outputs: [{ name: 'y', dims: ['batch', 1] }],
      nodes,
      initializers: [
        { name: 'w', dims: [width, width], values: new Float32Array(width * width).fill(1 / width) },
        { name: 'v', dims: [width, 1], values: new Float32Array(width).fill(1 / width) },
      ],
    }),
  );
}

/** A POST whose `sent` settles once the whole body has been handed to the socket. */
function post(url: string, body: string): { sent: Promise<void>; answered: Promise<Reply> } {
  const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  const answered = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  const sent = new Promise<void>((resolve) => req.end(body, resolve));
  return { sent, answered };
}
