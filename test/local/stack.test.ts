import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(first.states.slice(0, 7)).toEqual([
      'WaitForSidecar',
      'Plan',
      'NeedsPackaging',
      'PackageModel',
      'CacheModel',
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
