import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readText, writeText } from '../../src/core/ports/object-store.ts';
import { ExecutionNotRunnableError } from '../../src/local/errors.ts';
import type { EventLog, ExecutionOutcome } from '../../src/local/runner.ts';
import { ResourceRegistry } from '../../src/local/sagemaker/registry.ts';
import { LocalStack } from '../../src/local/stack.ts';
import { scalingModel } from '../support/models.ts';
import { pythonStubs } from '../support/python-stubs.ts';

// The state machine file over the whole local stack: the step functions' handlers, the local SageMaker
// (transform jobs, serverless endpoints, training jobs) and the model server with onnxruntime over
// real sockets. Only the TensorFlow packages the packaging script imports are stand-ins.

let model = '';
let stubs = '';
let stack: LocalStack;

beforeAll(async () => {
  // A model that answers each row [x, y] with [2x, 2y].
  model = await scalingModel(join(await mkdtemp(join(tmpdir(), 'stack-model-')), 'double'), 1, 2);
  stubs = await pythonStubs();
});

beforeEach(async () => {
  stack = new LocalStack({
    dataDir: await mkdtemp(join(tmpdir(), 'stack-')),
    training: { environment: { PYTHONPATH: stubs } },
  });
});

afterEach(async () => {
  await stack.close();
});

async function run(name: string, rows: string[], job: Record<string, unknown>) {
  await writeText(stack.store, `inbox/${name}.jsonl`, rows.map((row) => `${row}\n`).join(''));
  const states: string[] = [];
  const outcome: ExecutionOutcome = await stack.run(
    name,
    {
      inputs: [`inbox/${name}.jsonl`],
      job: { model, dataProcessing: { inputFilter: '$.features' }, ...job },
    },
    {
      onEvent: (event: EventLog) => {
        if (event.type === 'StateEntered' && event.index === undefined) states.push(event.state.name);
      },
    },
  );
  return { outcome, states };
}

/** What the local SageMaker still has: nothing, once a job has ended either way. */
function leftovers() {
  return { models: stack.sageMaker.models(), ...stack.sageMaker.endpoints() };
}

const nothing = { models: [], endpoints: [], endpointConfigs: [] };
const rows = ['{"features":[1,2]}', '{"features":[3,-4]}', '{"features":[0.5,1]}'];

describe('the local stack', () => {
  it('scores a job of fewer records than endpointMaxRecords on a serverless endpoint played by the model server', async () => {
    // Act
    const { outcome, states } = await run('small', rows, { endpointMaxRecords: 4 });
    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(states).toEqual(
      expect.arrayContaining(['Route', 'CreateEndpointConfig', 'CreateEndpoint', 'ScoreOnEndpoint']),
    );
    expect(states).not.toContain('Transform');
    expect(states.slice(-7, -1)).toEqual([
      'ReleaseEndpoint',
      'DeleteEndpoint',
      'DeleteEndpointConfig',
      'DeleteModel',
      'Cleanup',
      'Outcome',
    ]);
    expect(await readText(stack.store, 'results/small/small.jsonl.out')).toBe(
      '[2.0,4.0]\n[6.0,-8.0]\n[1.0,2.0]\n',
    );
    expect(leftovers()).toEqual(nothing);
  });

  it('scores the same job with a transform job from endpointMaxRecords records on, with the same results', async () => {
    const { outcome, states } = await run('large', rows, { endpointMaxRecords: 3 });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(states).toContain('Transform');
    expect(states).not.toContain('CreateEndpoint');
    expect(await readText(stack.store, 'results/large/large.jsonl.out')).toBe(
      '[2.0,4.0]\n[6.0,-8.0]\n[1.0,2.0]\n',
    );
    expect(leftovers()).toEqual(nothing);
  });

  it('deletes the endpoint, its config and the model when the model cannot answer on the endpoint', async () => {
    // Three features for a model that takes two: the model server answers 400.
    const { outcome, states } = await run('wide', ['{"features":[1,2,3]}'], { endpointMaxRecords: 10 });
    expect(outcome).toMatchObject({
      status: 'FAILED',
      error: {
        name: 'EndpointInvocationError',
        message: expect.stringContaining(
          'work/wide/shards/0/0.jsonl: request for records 1-1 to endpoint wide failed: ModelError: Received client error (400)',
        ),
      },
    });
    expect(states).toEqual(expect.arrayContaining(['DeleteEndpoint', 'DeleteEndpointConfig', 'DeleteModel']));
    expect(leftovers()).toEqual(nothing);
    expect(await stack.store.head('work/wide/index/0.json')).toBeUndefined();
  });

  it('packages a TF-Hub handle with the training script, caches model.tar.gz, and goes on to create the model', async () => {
    // Prepare: the inference code the job spec names, under the bucket's models/.
    await writeText(
      stack.store,
      'models/code/inference.py',
      'def output_handler(data, context):\n    return data\n',
    );
    const hub = {
      model: 'tfhub:google/nnlm-en-dim50/2',
      code: { inference: 's3://local/models/code/inference.py' },
      endpointMaxRecords: 10,
    };
    // Act
    const first = await run('hub1', rows, hub);
    // Assess: packaged and cached; the stand-in SavedModel cannot be served by onnxruntime, so the job
    // fails where the model server starts, and cleans up.
    expect(first.states.slice(0, 8)).toEqual([
      'WaitForSidecar',
      'Plan',
      'NeedsPackaging',
      'PackageModel',
      'CacheModel',
      'NeedsShards',
      'ShardInputs',
      'Route',
    ]);
    expect(first.states).toContain('CreateModel');
    expect(first.outcome).toMatchObject({ status: 'FAILED', error: { name: 'EndpointFailed' } });
    const failure = first.outcome.status === 'FAILED' ? first.outcome.error.message : '';
    expect(JSON.parse(failure)).toMatchObject({
      EndpointStatus: 'Failed',
      // The packaged model.tar.gz is read as the container reads it; its SavedModel runs only in the cloud.
      FailureReason: expect.stringContaining('is a TensorFlow SavedModel, which runs only in the cloud'),
    });
    const cached: string[] = [];
    for await (const object of stack.store.list('models/hub-cache/')) cached.push(object.key);
    expect(cached).toEqual([expect.stringMatching(/^models\/hub-cache\/[0-9a-f]{24}\/model\.tar\.gz$/)]);
    expect(leftovers()).toEqual(nothing);

    // A second job with the same handle and code takes the cached model: no packaging.
    const second = await run('hub2', rows, hub);
    expect(second.states).not.toContain('PackageModel');
    expect(second.states).toContain('CreateModel');
  });

  it('fails a TF-Hub job saying what to install when python3 cannot import TensorFlow', async () => {
    const bare = new LocalStack({
      dataDir: stack.store.root,
      training: { python: join(stubs, 'no-such-python') },
    });
    try {
      await writeText(bare.store, 'inbox/hub.jsonl', `${rows[0]}\n`);
      const outcome = await bare.run('hub3', {
        inputs: ['inbox/hub.jsonl'],
        job: { model: 'tfhub:google/nnlm-en-dim50/2' },
      });
      expect(outcome).toMatchObject({
        status: 'FAILED',
        error: {
          name: 'States.TaskFailed',
          message: expect.stringContaining('install Python 3 with tensorflow, tensorflow-hub, tf-keras'),
        },
      });
    } finally {
      await bare.close();
    }
  });
});

describe('an execution of the queue', () => {
  /** A queued execution of the rows, recorded as running in `pid`. */
  async function queued(name: string, pid?: number) {
    await writeText(stack.store, `inbox/${name}.jsonl`, rows.map((row) => `${row}\n`).join(''));
    await stack.executions.start(name, {
      inputs: [`inbox/${name}.jsonl`],
      job: { model, dataProcessing: { inputFilter: '$.features' }, endpointMaxRecords: 10 },
    });
    if (pid !== undefined) await stack.executions.update(name, { status: 'RUNNING', pid });
  }

  it('whose process ended while it ran is run again from the start, once what it left is cleared', async () => {
    // Prepare: what a process killed just after Finish leaves of an endpoint job.
    await queued('again', spawnSync(process.execPath, ['-e', '']).pid);
    await writeText(stack.store, 'results/again/_summary.json', '{"status": "Succeeded"}');
    await writeText(stack.store, 'results/again/again.jsonl.out', 'the previous attempt\n');
    await writeText(stack.store, 'work/again/shards/0/0.jsonl', 'the previous attempt\n');
    await writeFile(join(stack.store.root, 'work/again/shards/0/1.jsonl.1.2.partial'), 'half');
    const registry = new ResourceRegistry(stack.store.root);
    for (const kind of ['model', 'endpoint', 'endpoint-config'] as const) await registry.add(kind, 'again');

    // Act
    const outcome = await stack.execute('again');

    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(await readText(stack.store, 'results/again/again.jsonl.out')).toBe(
      '[2.0,4.0]\n[6.0,-8.0]\n[1.0,2.0]\n',
    );
    expect(JSON.parse(await readText(stack.store, 'results/again/_summary.json'))).toMatchObject({
      records: { in: 3, out: 3, errors: 0 },
    });
    expect(await stack.executions.get('again')).toMatchObject({ status: 'SUCCEEDED', pid: process.pid });
    expect(await registry.list()).toEqual([]);
    expect(await stack.store.temporaries()).toEqual([]);
    expect(await stack.store.head('work/again/shards/0/0.jsonl')).toBeUndefined();
  });

  it('is not run while another process runs it, nor once it has ended', async () => {
    await queued('elsewhere', process.pid);
    await queued('done');
    await stack.executions.update('done', { status: 'SUCCEEDED' });
    const runner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await writeFile(
        join(stack.store.root, 'executions', 'elsewhere.lock'),
        JSON.stringify({ pid: runner.pid }),
      );
      await expect(stack.execute('elsewhere')).rejects.toThrow(
        new ExecutionNotRunnableError(`job elsewhere is running in process ${runner.pid}`),
      );
    } finally {
      runner.kill();
    }
    await expect(stack.execute('done')).rejects.toThrow(
      new ExecutionNotRunnableError('job done has already ended (SUCCEEDED)'),
    );
  });
});

describe('the local stack, on many inputs', () => {
  it('scores a folder of 5,000 small inputs as one job, every record accounted for and in order', async () => {
    // Prepare: input k holds one record, or two when k is a multiple of 7; input 4,321 a line that does not parse.
    const count = 5000;
    const rowsOf = (k: number) => {
      const records = [`{"features":[${k},1]}`];
      if (k % 7 === 0) records.push(`{"features":[${k},2]}`);
      if (k === 4321) records.splice(0, 0, '{not json');
      return records;
    };
    const name = (k: number) => `many/${String(k).padStart(4, '0')}.jsonl`;
    for (let k = 0; k < count; k++) {
      await writeText(
        stack.store,
        `inbox/${name(k)}`,
        rowsOf(k)
          .map((row) => `${row}\n`)
          .join(''),
      );
    }
    // Act
    const outcome = await stack.run('many', {
      inputs: ['inbox/many/'],
      job: { model, dataProcessing: { inputFilter: '$.features' } },
    });
    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    const summary = JSON.parse(await readText(stack.store, 'results/many/_summary.json'));
    const records = Array.from({ length: count }, (_, k) => rowsOf(k).length).reduce((a, b) => a + b, 0);
    expect(summary.records).toEqual({ in: records, out: records - 1, errors: 1 });
    expect(summary.inputs).toHaveLength(count);
    expect(summary.inputs[4321]).toEqual({
      key: '4321.jsonl',
      records: 2,
      errors: 1,
      output: 'results/many/4321.jsonl.out',
    });
    for (let k = 0; k < count; k++) {
      const expected = rowsOf(k)
        .filter((row) => row !== '{not json')
        .map((row) => (JSON.parse(row).features as number[]).map((x) => 2 * x));
      const output = await readText(stack.store, `results/many/${name(k).slice('many/'.length)}.out`);
      expect(
        output
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line)),
        name(k),
      ).toEqual(expected);
    }
    expect(JSON.parse(await readText(stack.store, 'results/many/_errors.jsonl'))).toMatchObject({
      input: '4321.jsonl',
      record: 1,
      line: 1,
    });
    // Records of many inputs share shards: a handful for the job, not one per input.
    expect(stack.sageMaker.models()).toEqual([]);
  });
});

describe('the local stack, on whole objects', () => {
  async function runObjects(name: string, maxErrorPercent: number) {
    const objects = ['a/1.json', 'a/2.json', 'b/3.json', 'b/4.json', 'c.json'];
    for (const [k, key] of objects.entries()) {
      const body = key === 'b/3.json' ? '{"instances": [[1, oops' : `{"instances":[[${k},1]]}`;
      await writeText(stack.store, `inbox/${name}/${key}`, body);
    }
    const outcome = await stack.run(name, {
      inputs: [`inbox/${name}/`],
      job: {
        model,
        contentType: 'application/json',
        splitType: 'None',
        batchStrategy: 'SingleRecord',
        maxErrorPercent,
      },
    });
    const results = `results/${name}/`;
    return {
      outcome,
      predictions: (await readText(stack.store, `${results}predictions.jsonl`))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
      errors: (await readText(stack.store, `${results}_errors.jsonl`))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
      summary: JSON.parse(await readText(stack.store, `${results}_summary.json`)),
    };
  }

  it('answers each object in key order into predictions.jsonl; one failing object fails only its line', async () => {
    // Act
    const { outcome, predictions, errors, summary } = await runObjects('objects', 25);
    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(predictions).toEqual([
      { input: 'a/1.json', SageMakerOutput: { predictions: [[0, 2]] } },
      { input: 'a/2.json', SageMakerOutput: { predictions: [[2, 2]] } },
      { input: 'b/4.json', SageMakerOutput: { predictions: [[6, 2]] } },
      { input: 'c.json', SageMakerOutput: { predictions: [[8, 2]] } },
    ]);
    expect(errors).toEqual([{ input: 'b/3.json', record: 1, reason: expect.stringContaining('b/3.json') }]);
    expect(summary).toMatchObject({
      status: 'Succeeded',
      records: { in: 5, out: 4, errors: 1 },
      inputs: [{ key: 'objects/', records: 5, errors: 1, output: 'results/objects/predictions.jsonl' }],
    });
    // The objects were read where they are: nothing was copied into shards.
    expect(await stack.store.head('inbox/objects/a/1.json')).toBeDefined();
  });

  it('fails a whole-object job over maxErrorPercent, still writing its predictions and errors', async () => {
    const { outcome, predictions, errors, summary } = await runObjects('strict', 0);
    expect(outcome.status).toBe('FAILED');
    expect(predictions).toHaveLength(4);
    expect(errors).toHaveLength(1);
    expect(summary).toMatchObject({
      status: 'Failed',
      reason: expect.stringContaining('1 of 5 records (20.00%)'),
    });
  });

  it('decompresses each object first when the job says compressionType Gzip; a damaged one fails only its line', async () => {
    // Prepare: gzipped objects, one of them cut short.
    const objects = ['a.json.gz', 'b.json.gz', 'c.json.gz'];
    for (const [k, key] of objects.entries()) {
      const packed = gzipSync(`{"instances":[[${k},1]]}`);
      const sink = await stack.store.write(`inbox/packed/${key}`);
      await sink.write(key === 'b.json.gz' ? packed.subarray(0, packed.length - 6) : packed);
      await sink.close();
    }
    // Act
    const outcome = await stack.run('packed', {
      inputs: ['inbox/packed/'],
      job: {
        model,
        contentType: 'application/json',
        splitType: 'None',
        compressionType: 'Gzip',
        batchStrategy: 'SingleRecord',
        maxErrorPercent: 50,
      },
    });
    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    const lines = async (key: string) =>
      (await readText(stack.store, `results/packed/${key}`))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
    expect(await lines('predictions.jsonl')).toEqual([
      { input: 'a.json.gz', SageMakerOutput: { predictions: [[0, 2]] } },
      { input: 'c.json.gz', SageMakerOutput: { predictions: [[4, 2]] } },
    ]);
    expect(await lines('_errors.jsonl')).toEqual([
      {
        input: 'b.json.gz',
        record: 1,
        reason: expect.stringContaining('b.json.gz: cannot be decompressed as gzip'),
      },
    ]);
  });
});
