import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { type ObjectStore, readText, writeText } from '../../src/core/ports/object-store.ts';
import type { SageMakerJobs } from '../../src/core/ports/sagemaker-jobs.ts';
import { type Plan, type PlanConfig, planJob } from '../../src/core/steps/plan.ts';
import { cleanupStep, finishStep, mergeStep, shardStep } from '../../src/core/steps/run-steps.ts';
import { loadDefinition } from '../../src/local/asl.ts';

// The state machine file runs through the ASL interpreter; Task states are served by the step
// functions over a local folder, and SageMaker by a stand-in whose model answers each instance with
// itself. Only that stand-in is fake: it is what no local part can be until the local SageMaker exists.

type Json = Parameters<StateMachine['run']>[0];
const config: PlanConfig = {
  objectUrl: (key) => `s3://bucket/${key}`,
  servingImage: () => 'tfs-image',
  trainingImage: 'training-image',
  localModels: true,
};

class StandInSageMaker implements SageMakerJobs {
  readonly models = new Set<string>();
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

  createModel(input: { ModelName: string }): Json {
    this.failIfAsked('createModel');
    this.models.add(input.ModelName);
    return {};
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
        Plan: (input) => {
          const { jobId, request: body } = input as { jobId: string; request: Record<string, unknown> };
          return planJob(
            { jobId, inputs: body.inputs as string[], job: body.job },
            store,
            config,
          ) as unknown as Json;
        },
        Shard: (input) => perInput(input, shardStep),
        Merge: (input) => perInput(input, mergeStep),
        Finish: (input) => {
          const { plan } = input as unknown as { plan: Plan };
          return finishStep(store, plan) as unknown as Json;
        },
        Cleanup: (input) => cleanupStep(store, sageMaker, input as { jobId: string }) as unknown as Json,
        CreateModel: (input) => sageMaker.createModel(input as { ModelName: string }),
        Transform: (input) => sageMaker.transform(input as never),
        DeleteModel: (input) => sageMaker.deleteModel(input as { ModelName: string }),
      },
      retryIntervalOverrides: { CreateModel: 0, Transform: 0, DeleteModel: 0, Cleanup: 0, Plan: 0 },
      waitTimeOverrides: { SettleUploads: 300 },
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

/** A Map item as the state machine passes it to Shard and Merge, handed to the step. */
function perInput(
  input: Json,
  step: (
    store: ObjectStore,
    plan: Pick<Plan, 'jobId' | 'spec'>,
    item: Plan['inputs'][number],
  ) => Promise<unknown>,
): Promise<Json> {
  const {
    jobId,
    spec,
    input: item,
  } = input as unknown as { jobId: string; spec: Plan['spec']; input: Plan['inputs'][number] };
  return step(store, { jobId, spec }, item) as Promise<Json>;
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
