import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { EndpointInvocationError, TransientStorageError } from '../../src/core/errors.ts';
import type { EndpointInvoker, EndpointRequest } from '../../src/core/ports/endpoints.ts';
import { type ObjectStore, readText, writeText } from '../../src/core/ports/object-store.ts';
import type { SageMakerJobs } from '../../src/core/ports/sagemaker-jobs.ts';
import type { PlanConfig } from '../../src/core/steps/plan.ts';
import { createCleanupHandler } from '../../src/handlers/cleanup.ts';
import { createFinishHandler } from '../../src/handlers/finish.ts';
import { createMergeHandler } from '../../src/handlers/merge.ts';
import { createPlanHandler } from '../../src/handlers/plan.ts';
import { createRouteHandler } from '../../src/handlers/route.ts';
import { createScoreHandler } from '../../src/handlers/score.ts';
import { createShardHandler } from '../../src/handlers/shard.ts';
import { loadDefinition } from '../../src/local/asl.ts';
import { type LambdaHandler, lambdaContext } from '../../src/local/runner.ts';

// The state machine file runs through the ASL interpreter; Task states are served by the step
// functions' handlers over a local folder, and SageMaker by a stand-in whose model answers each instance with
// itself: the flow's own paths (retries, failures, the endpoint's status checks) are driven from here.
// test/local/stack.test.ts runs the same file over the local SageMaker and model server.

type Json = Parameters<StateMachine['run']>[0];
const config: PlanConfig = {
  objectUrl: (key) => `s3://bucket/${key}`,
  servingImage: (instanceType) => (instanceType === 'serverless' ? 'tfs-cpu' : 'tfs-image'),
  trainingImage: 'training-image',
  packagingSource: async () => [
    { name: 'package_hub_model.py', content: Buffer.from('print("packaged")\n') },
  ],
  localModels: true,
};

class StandInSageMaker implements SageMakerJobs, EndpointInvoker {
  readonly models = new Map<string, { image: string; dataUrl: string }>();
  readonly endpointConfigs = new Set<string>();
  readonly endpoints = new Map<string, { checks: number }>();
  /** What DescribeEndpoint answers: Creating for the first `creatingChecks` checks, then this. */
  endpointOutcome: { status: 'InService' } | { status: 'Failed'; reason: string } = { status: 'InService' };
  creatingChecks = 1;
  /** Transform jobs started and not finished: what a timed-out wait leaves behind. */
  readonly running = new Set<string>();
  readonly calls: string[] = [];
  failures: Record<string, { name: string; message: string; times: number }> = {};
  readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  private failIfAsked(action: string): void {
    this.calls.push(action);
    const failure = this.failures[action];
    if (failure && failure.times > 0) {
      failure.times--;
      throw Object.assign(new Error(failure.message), { name: failure.name });
    }
  }

  createModel(input: { ModelName: string; PrimaryContainer: { Image: string; ModelDataUrl: string } }): Json {
    this.failIfAsked('createModel');
    this.models.set(input.ModelName, {
      image: input.PrimaryContainer.Image,
      dataUrl: input.PrimaryContainer.ModelDataUrl,
    });
    return {};
  }

  /** Writes a stand-in model.tar.gz where SageMaker puts the job's model. */
  async createTrainingJob(input: {
    TrainingJobName: string;
    HyperParameters: Record<string, string>;
    OutputDataConfig: { S3OutputPath: string };
  }): Promise<Json> {
    this.failIfAsked('createTrainingJob');
    const output = `${input.OutputDataConfig.S3OutputPath.replace('s3://bucket/', '')}${input.TrainingJobName}/output/model.tar.gz`;
    await writeText(this.store, output, `packaged ${input.HyperParameters.handle}`);
    return { TrainingJobStatus: 'Completed' };
  }

  createEndpointConfig(input: {
    EndpointConfigName: string;
    ProductionVariants: { ModelName: string }[];
  }): Json {
    this.failIfAsked('createEndpointConfig');
    if (!this.models.has(input.ProductionVariants[0]?.ModelName ?? '')) throw new Error('no such model');
    this.endpointConfigs.add(input.EndpointConfigName);
    return {};
  }

  createEndpoint(input: { EndpointName: string; EndpointConfigName: string }): Json {
    this.failIfAsked('createEndpoint');
    if (!this.endpointConfigs.has(input.EndpointConfigName)) throw new Error('no such endpoint config');
    this.endpoints.set(input.EndpointName, { checks: 0 });
    return { EndpointArn: `arn:endpoint/${input.EndpointName}` };
  }

  describeEndpoint(input: { EndpointName: string }): Json {
    this.failIfAsked('describeEndpoint');
    const endpoint = this.endpoints.get(input.EndpointName);
    if (!endpoint)
      throw Object.assign(new Error('Could not find endpoint'), { name: 'SageMaker.SageMakerException' });
    endpoint.checks++;
    const outcome = this.endpointOutcome;
    if (endpoint.checks <= this.creatingChecks)
      return { EndpointName: input.EndpointName, EndpointStatus: 'Creating' };
    return outcome.status === 'InService'
      ? { EndpointName: input.EndpointName, EndpointStatus: 'InService' }
      : { EndpointName: input.EndpointName, EndpointStatus: 'Failed', FailureReason: outcome.reason };
  }

  deleteEndpoint(input: { EndpointName: string }): Json {
    this.calls.push('deleteEndpoint');
    if (!this.endpoints.delete(input.EndpointName)) {
      throw Object.assign(new Error('Could not find endpoint'), { name: 'SageMaker.SageMakerException' });
    }
    return {};
  }

  deleteEndpointConfig(input: { EndpointConfigName: string }): Json {
    this.calls.push('deleteEndpointConfig');
    if (!this.endpointConfigs.delete(input.EndpointConfigName)) {
      throw Object.assign(new Error('Could not find endpoint configuration'), {
        name: 'SageMaker.SageMakerException',
      });
    }
    return {};
  }

  /** The endpoint's model answers the instances of a request (one per line) with themselves. */
  async invokeEndpoint(request: EndpointRequest): Promise<Buffer> {
    this.failIfAsked('invokeEndpoint');
    if (this.endpoints.get(request.endpoint)?.checks === undefined) {
      throw new EndpointInvocationError(`Endpoint ${request.endpoint} not found`, false);
    }
    const lines = request.body.toString('utf8').split('\n');
    return Buffer.from(JSON.stringify({ predictions: lines.map((line) => JSON.parse(line) as unknown) }));
  }

  deleteModel(input: { ModelName: string }): Json {
    this.failIfAsked('deleteModel');
    if (!this.models.delete(input.ModelName)) {
      throw Object.assign(new Error(`Could not find model "${input.ModelName}".`), {
        name: 'SageMaker.SageMakerException',
      });
    }
    return {};
  }

  async stopTransformJob(name: string): Promise<boolean> {
    this.calls.push(`stopTransformJob ${name}`);
    return this.running.delete(name);
  }

  async stopTrainingJob(): Promise<boolean> {
    return false;
  }

  /** Each shard line is one instance; each output line answers a request of up to 3 of them. */
  async transform(input: {
    TransformJobName: string;
    ModelName: string;
    TransformInput: { DataSource: { S3DataSource: { S3Uri: string } } };
  }): Promise<Json> {
    this.running.add(input.TransformJobName);
    this.failIfAsked('transform');
    this.running.delete(input.TransformJobName);
    if (!this.models.has(input.ModelName))
      throw Object.assign(new Error('no such model'), { name: 'States.TaskFailed' });
    const prefix = input.TransformInput.DataSource.S3DataSource.S3Uri.replace('s3://bucket/', '');
    const outputs = prefix.replace('/shards/', '/outputs/');
    for await (const shard of this.store.list(prefix)) {
      const lines = (await readText(this.store, shard.key)).split('\n').filter((line) => line.length > 0);
      const responses: string[] = [];
      for (let k = 0; k < lines.length; k += 3) {
        responses.push(
          JSON.stringify({ predictions: lines.slice(k, k + 3).map((line) => JSON.parse(line) as unknown) }),
        );
      }
      await writeText(
        this.store,
        `${outputs}${shard.key.slice(prefix.length)}.out`,
        responses.map((r) => `${r}\n`).join(''),
      );
    }
    return { TransformJobStatus: 'Completed' };
  }
}

let store: LocalObjectStore;
let sageMaker: StandInSageMaker;

beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-asl-')));
  sageMaker = new StandInSageMaker(store);
});

type Events = ReturnType<StateMachine['run']>['eventLogs'];

function invoke(name: string, input: Json): Promise<Json> {
  const handler = handlers[name];
  if (!handler) throw new Error(`no handler ${name}`);
  return handler(input, lambdaContext(name)) as Promise<Json>;
}

/** The step functions' handlers, as local mode builds them, over this test's folder and stand-in. */
const handlers: Record<string, LambdaHandler> = {
  plan: createPlanHandler(() => ({ store, config })),
  shard: createShardHandler(() => ({ store })),
  route: createRouteHandler(() => ({ store })),
  score: createScoreHandler(() => ({ store, endpoints: sageMaker })),
  merge: createMergeHandler(() => ({ store })),
  finish: createFinishHandler(() => ({ store })),
  cleanup: createCleanupHandler(() => ({ store, jobs: sageMaker })),
};

async function execute(
  name: string,
  request: Record<string, unknown>,
  during?: (events: Events) => Promise<void>,
) {
  const machine = new StateMachine((await loadDefinition()) as never, {
    validationOptions: { checkArn: false },
  });
  const execution = machine.run(request as Json, {
    context: { Execution: { Name: name } } as never,
    overrides: {
      taskResourceLocalHandlers: {
        Plan: (input) => invoke('plan', input),
        Shard: (input) => invoke('shard', input),
        Merge: (input) => invoke('merge', input),
        Finish: (input) => invoke('finish', input),
        Cleanup: (input) => invoke('cleanup', input),
        PackageModel: (input) => sageMaker.createTrainingJob(input as never),
        CacheModel: (input) => copyObject(input as never),
        Route: (input) => invoke('route', input),
        CreateModel: (input) => sageMaker.createModel(input as never),
        Transform: (input) => sageMaker.transform(input as never),
        CreateEndpointConfig: (input) => sageMaker.createEndpointConfig(input as never),
        CreateEndpoint: (input) => sageMaker.createEndpoint(input as never),
        DescribeEndpoint: (input) => sageMaker.describeEndpoint(input as never),
        ScoreOnEndpoint: (input) => invoke('score', input),
        DeleteEndpoint: (input) => sageMaker.deleteEndpoint(input as never),
        DeleteEndpointConfig: (input) => sageMaker.deleteEndpointConfig(input as never),
        DeleteModel: (input) => sageMaker.deleteModel(input as { ModelName: string }),
      },
      retryIntervalOverrides: {
        CreateModel: 0,
        Transform: 0,
        DeleteModel: 0,
        DeleteEndpoint: 0,
        DeleteEndpointConfig: 0,
        Cleanup: 0,
        Plan: 0,
        Shard: 0,
        Merge: 0,
      },
      waitTimeOverrides: { SettleUploads: 300, WaitForEndpoint: 0 },
    },
  });
  await during?.(execution.eventLogs);
  try {
    return { output: (await execution.result) as Record<string, unknown>, error: undefined };
  } catch (error) {
    const cause = (error as Error).cause as Error;
    return { output: undefined, error: { name: cause.name, message: cause.message } };
  }
}

/** S3's CopyObject within the test's bucket. */
async function copyObject(input: { Bucket: string; CopySource: string; Key: string }): Promise<Json> {
  const source = input.CopySource.slice(`${input.Bucket}/`.length);
  await writeText(store, input.Key, await readText(store, source));
  return {};
}

/** A Map item as the state machine passes it to Shard and Merge, handed to the step. */
/** What the job left in SageMaker. */
function sageMakerLeft() {
  return {
    endpoints: sageMaker.endpoints.size,
    endpointConfigs: sageMaker.endpointConfigs.size,
    models: sageMaker.models.size,
  };
}

async function keys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.list(prefix)) found.push(object.key);
  return found;
}

const spec = {
  model: 's3://models/iris/model.tar.gz',
  dataProcessing: { inputFilter: '$.features' },
  shardSizeInMB: 1,
};

describe('the state machine', () => {
  it('scores every input, writes the results, and leaves nothing behind', async () => {
    // Prepare
    await writeText(store, 'inbox/a.jsonl', '{"features":[1,2]}\n{"features":[3,4]}\n');
    await writeText(
      store,
      'inbox/sub/b.jsonl',
      '{"features":[5]}\n{oops\n{"features":[6]}\n{"features":[7]}\n',
    );
    // Act
    const { output, error } = await execute('job-1', {
      inputs: ['inbox/a.jsonl', 'inbox/sub/b.jsonl'],
      job: { ...spec, maxErrorPercent: 50 },
    });
    // Assess
    expect(error).toBeUndefined();
    expect(await readText(store, 'results/job-1/a.jsonl.out')).toBe('[1,2]\n[3,4]\n');
    expect(await readText(store, 'results/job-1/sub/b.jsonl.out')).toBe('[5]\n[6]\n[7]\n');
    const summary = JSON.parse(await readText(store, 'results/job-1/_summary.json'));
    expect(summary).toMatchObject({
      jobId: 'job-1',
      status: 'Succeeded',
      records: { in: 6, out: 5, errors: 1 },
    });
    expect(JSON.parse(await readText(store, 'results/job-1/_errors.jsonl'))).toMatchObject({
      input: 'sub/b.jsonl',
      record: 2,
      line: 2,
    });
    expect(output?.summary).toMatchObject({ status: 'Succeeded' });
    expect(await keys('work/')).toEqual([]);
    expect(sageMaker.models.size).toBe(0);
  });

  it('cleans up and fails with the cause when the transform fails', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.failures.transform = {
      name: 'States.TaskFailed',
      message: 'ClientError: model container exited',
      times: 1,
    };
    const { error } = await execute('job-2', { inputs: ['inbox/a.jsonl'], job: spec });
    expect(error).toEqual({ name: 'States.TaskFailed', message: 'ClientError: model container exited' });
    expect(sageMaker.calls).toContain('deleteModel');
    expect(sageMaker.models.size).toBe(0);
    expect(await keys('work/')).toEqual([]);
    expect(await keys('results/')).toEqual(['results/job-2/_job.json']);
  });

  it('stops a transform job the execution stopped waiting for', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.failures.transform = { name: 'States.Timeout', message: 'Task timed out', times: 1 };
    const { output, error } = await execute('job-6', { inputs: ['inbox/a.jsonl'], job: spec });
    expect(error).toEqual({ name: 'States.Timeout', message: 'Task timed out' });
    expect(output).toBeUndefined();
    expect(sageMaker.calls).toContain('stopTransformJob job-6');
    expect(sageMaker.running.size).toBe(0);
    expect(await keys('work/')).toEqual([]);
  });

  it('lets an inbox job wait, so that a sidecar uploaded just after its file still applies', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    await writeText(store, 'config/default-job.json', JSON.stringify(spec));
    const sidecarAfter = (state: string) => async (events: Events) => {
      for await (const event of events) {
        if (event.type === 'StateEntered' && event.state.name === state) break;
      }
      await writeText(store, 'inbox/a.jsonl.job.json', JSON.stringify({ instanceCount: 3 }));
    };
    // Without the wait, a sidecar that arrives once planning has begun is too late...
    await execute('job-7', { inputs: ['inbox/a.jsonl'] }, sidecarAfter('CreateModel'));
    expect(JSON.parse(await readText(store, 'results/job-7/_job.json')).job).toMatchObject({
      instanceCount: 1,
    });
    // ...while an inbox job waits for it.
    await writeText(store, 'inbox/a.jsonl.job.json', '{}');
    const { error } = await execute(
      'job-8',
      { inputs: ['inbox/a.jsonl'], settleSeconds: 15 },
      sidecarAfter('SettleUploads'),
    );
    expect(error).toBeUndefined();
    expect(JSON.parse(await readText(store, 'results/job-8/_job.json')).job).toMatchObject({
      instanceCount: 3,
    });
  });

  it('retries a throttled SageMaker call and then succeeds', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.failures.createModel = {
      name: 'SageMaker.ThrottlingException',
      message: 'Rate exceeded',
      times: 2,
    };
    const { error } = await execute('job-3', { inputs: ['inbox/a.jsonl'], job: spec });
    expect(error).toBeUndefined();
    expect(sageMaker.calls.filter((call) => call === 'createModel')).toHaveLength(3);
    expect(await readText(store, 'results/job-3/a.jsonl.out')).toBe('[1]\n');
  });

  it('retries Shard and Merge when the bucket fails in a way that passes, and then succeeds', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n{"features":[2]}\n');
    // The first read of the input (Shard) and of the transform output (Merge) is throttled.
    const throttled: string[] = [];
    const read = store.read.bind(store);
    store.read = async function* (key: string) {
      const shardOutput = key.startsWith('work/') && key.endsWith('.out');
      if ((key === 'inbox/a.jsonl' || shardOutput) && !throttled.includes(key)) {
        throttled.push(key);
        throw new TransientStorageError(
          `read s3://bucket/${key}: SlowDown: Please reduce your request rate.`,
        );
      }
      yield* read(key);
    };

    const { error } = await execute('job-throttled', { inputs: ['inbox/a.jsonl'], job: spec });

    expect(error).toBeUndefined();
    expect(throttled).toEqual(['inbox/a.jsonl', expect.stringMatching(/^work\/job-throttled\/.*\.out$/)]);
    expect(await readText(store, 'results/job-throttled/a.jsonl.out')).toBe('[1]\n[2]\n');
    expect(await keys('work/')).toEqual([]);
  });

  it('fails a job over maxErrorPercent, still writing both files', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n{bad\n');
    const { error } = await execute('job-4', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, maxErrorPercent: 10 },
    });
    expect(error?.name).toBe('ErrorRateExceeded');
    expect(error?.message).toContain('1 of 2 records (50.00%) could not be scored, over maxErrorPercent 10');
    expect(JSON.parse(await readText(store, 'results/job-4/_summary.json'))).toMatchObject({
      status: 'Failed',
    });
    expect(await readText(store, 'results/job-4/_errors.jsonl')).toContain('invalid JSON at column 2');
    expect(await keys('work/')).toEqual([]);
  });

  it('scores a job of fewer records than endpointMaxRecords on a serverless endpoint, then deletes it', async () => {
    // Prepare: three records, under a threshold of four; the endpoint is Creating at the first check.
    await writeText(store, 'inbox/a.jsonl', '{"features":[1,2]}\n{"features":[3,4]}\n{"features":[5]}\n');
    // Act
    const { output, error } = await execute('job-e1', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, endpointMaxRecords: 4, serverlessConfig: { memorySizeInMB: 3072, maxConcurrency: 2 } },
    });
    // Assess: the same results as a transform job's, from the endpoint, and nothing left behind.
    expect(error).toBeUndefined();
    expect(await readText(store, 'results/job-e1/a.jsonl.out')).toBe('[1,2]\n[3,4]\n[5]\n');
    expect(output?.scoring).toEqual({
      empty: false,
      endpoint: true,
      image: 'tfs-cpu',
      reason: '3 records, fewer than endpointMaxRecords 4',
    });
    expect(sageMaker.calls.filter((call) => !call.startsWith('stop'))).toEqual([
      'createModel',
      'createEndpointConfig',
      'createEndpoint',
      'describeEndpoint',
      'describeEndpoint',
      'invokeEndpoint',
      'deleteEndpoint',
      'deleteEndpointConfig',
      'deleteModel',
    ]);
    expect(sageMakerLeft()).toEqual({ endpoints: 0, endpointConfigs: 0, models: 0 });
    expect(await keys('work/')).toEqual([]);
  });

  it('scores a job of endpointMaxRecords records or more with a transform job', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n{"features":[2]}\n{"features":[3]}\n');
    const { output, error } = await execute('job-e2', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, endpointMaxRecords: 3 },
    });
    expect(error).toBeUndefined();
    expect(output?.scoring).toMatchObject({ endpoint: false, image: 'tfs-image' });
    expect(sageMaker.calls).toContain('transform');
    expect(sageMaker.calls).not.toContain('createEndpoint');
    expect(sageMaker.calls).not.toContain('deleteEndpoint');
    expect(await readText(store, 'results/job-e2/a.jsonl.out')).toBe('[1]\n[2]\n[3]\n');
  });

  it('deletes the endpoint, its config and the model when scoring on the endpoint fails', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.failures.invokeEndpoint = {
      name: 'EndpointInvocationError',
      message: 'ModelError: 400',
      times: 1,
    };
    const { error } = await execute('job-e3', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, endpointMaxRecords: 10 },
    });
    expect(error?.name).toBe('EndpointInvocationError');
    expect(error?.message).toContain('request for records 1-1 to endpoint job-e3 failed: ModelError: 400');
    expect(sageMaker.calls.filter((call) => call.startsWith('delete'))).toEqual([
      'deleteEndpoint',
      'deleteEndpointConfig',
      'deleteModel',
    ]);
    expect(sageMakerLeft()).toEqual({ endpoints: 0, endpointConfigs: 0, models: 0 });
    expect(await keys('work/')).toEqual([]);
  });

  it('fails with the reason SageMaker gives when the endpoint cannot be created, and cleans up', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.endpointOutcome = {
      status: 'Failed',
      reason: 'Image size 12 GB is over the 10 GB serverless limit',
    };
    const { error } = await execute('job-e4', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, endpointMaxRecords: 10 },
    });
    expect(error?.name).toBe('EndpointFailed');
    expect(JSON.parse(error?.message ?? '{}')).toMatchObject({
      EndpointStatus: 'Failed',
      FailureReason: 'Image size 12 GB is over the 10 GB serverless limit',
    });
    expect(sageMaker.calls).not.toContain('invokeEndpoint');
    expect(sageMakerLeft()).toEqual({ endpoints: 0, endpointConfigs: 0, models: 0 });
  });

  it('gives up on an endpoint that stays Creating, and cleans up', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.creatingChecks = Number.POSITIVE_INFINITY;
    const { error } = await execute('job-e5', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, endpointMaxRecords: 10 },
    });
    expect(error).toEqual({
      name: 'EndpointTimeout',
      message: 'Endpoint job-e5 was still not InService after 60 waits of 30 seconds',
    });
    expect(sageMaker.calls.filter((call) => call === 'describeEndpoint')).toHaveLength(61);
    expect(sageMakerLeft()).toEqual({ endpoints: 0, endpointConfigs: 0, models: 0 });
  });

  it('packages a TF-Hub handle once, and serves the packaged model from the cache after', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    const hub = { ...spec, model: 'tfhub:google/nnlm-en-dim50/2' };
    const first = await execute('job-h1', { inputs: ['inbox/a.jsonl'], job: hub });
    expect(first.error).toBeUndefined();
    expect(sageMaker.calls.filter((call) => call === 'createTrainingJob')).toHaveLength(1);
    const cached = (await keys('models/hub-cache/')).filter((key) => key.endsWith('/model.tar.gz'));
    expect(cached).toHaveLength(1);
    expect(await readText(store, cached[0] ?? '')).toBe('packaged "google/nnlm-en-dim50/2"');
    expect(await keys('code/package-hub-model/')).toEqual([
      expect.stringMatching(/\/package_hub_model\.py$/),
    ]);

    const second = await execute('job-h2', { inputs: ['inbox/a.jsonl'], job: hub });
    expect(second.error).toBeUndefined();
    expect(sageMaker.calls.filter((call) => call === 'createTrainingJob')).toHaveLength(1);
    expect(await readText(store, 'results/job-h2/a.jsonl.out')).toBe('[1]\n');
  });

  it('cleans up after a packaging job that fails', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    sageMaker.failures.createTrainingJob = {
      name: 'States.TaskFailed',
      message: 'AlgorithmError: ExecuteUserScriptError',
      times: 1,
    };
    const { error } = await execute('job-h3', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, model: 'tfhub:google/nnlm-en-dim50/2' },
    });
    expect(error).toEqual({ name: 'States.TaskFailed', message: 'AlgorithmError: ExecuteUserScriptError' });
    expect(sageMaker.calls).not.toContain('createModel');
    expect(await keys('models/')).toEqual([]);
    expect(await keys('work/')).toEqual([]);
  });

  it('rejects an invalid job spec before creating anything, naming the field', async () => {
    await writeText(store, 'inbox/a.jsonl', '{"features":[1]}\n');
    const { error } = await execute('job-5', {
      inputs: ['inbox/a.jsonl'],
      job: { ...spec, maxPayloadInMB: 60, maxConcurrentTransforms: 4 },
    });
    expect(error?.name).toBe('JobSpecError');
    expect(error?.message).toContain('maxPayloadInMB × maxConcurrentTransforms must be at most 100');
    expect(sageMaker.calls).toEqual([]);
  });
});
