import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LocalExecutions } from '../adapters/local-executions.ts';
import { LocalObjectStore } from '../adapters/local-store.ts';
import { packagingSource } from '../adapters/packaging-source.ts';
import { InvalidKeyError } from '../core/errors.ts';
import { shardThreads } from '../core/shard/threads.ts';
import type { PlanConfig } from '../core/steps/plan.ts';
import { createCleanupHandler } from '../handlers/cleanup.ts';
import { createFinishHandler } from '../handlers/finish.ts';
import { createMergeHandler } from '../handlers/merge.ts';
import { createPlanHandler } from '../handlers/plan.ts';
import { createRouteHandler } from '../handlers/route.ts';
import { createScoreHandler } from '../handlers/score.ts';
import { createShardHandler } from '../handlers/shard.ts';
import { LOCAL_BUCKET, LocalModelHost } from './model-host.ts';
import { type ExecutionOutcome, type LambdaHandler, type RunOptions, runExecution } from './runner.ts';
import { LocalSageMaker } from './sagemaker/index.ts';
import { ResourceRegistry } from './sagemaker/registry.ts';
import type { TrainingOptions } from './sagemaker/training.ts';

export interface LocalStackOptions {
  /** The folder playing the bucket: inbox/, work/, results/, config/, executions/. */
  readonly dataDir: string;
  /** Where a relative model path starts (the working folder by default). */
  readonly modelBaseDir?: string;
  /** A running container that speaks the SageMaker contract, used instead of the local model server. */
  readonly modelUrl?: string;
  /** Called as the transform's requests complete. */
  readonly onTransformProgress?: (event: { job: string; records: number; requests: number }) => void;
  /** How the training job that packages TF-Hub models runs its script here. */
  readonly training?: TrainingOptions;
}

const TRAINING_SOURCE = fileURLToPath(new URL('../../training/', import.meta.url));

/**
 * The whole pipeline on one machine: the step functions' own handlers over a folder, a local SageMaker
 * in front of the local model server, and the state machine file run by the ASL interpreter.
 */
export class LocalStack {
  readonly store: LocalObjectStore;
  readonly executions: LocalExecutions;
  readonly sageMaker: LocalSageMaker;
  private readonly models: LocalModelHost;
  /** The step functions' handlers by name, as the state machine calls them; one can be invoked alone. */
  readonly functions: Readonly<Record<string, LambdaHandler>>;

  constructor(options: LocalStackOptions) {
    this.store = new LocalObjectStore(options.dataDir);
    this.executions = new LocalExecutions(options.dataDir);
    this.models = new LocalModelHost({
      dataDir: this.store.root,
      ...(options.modelBaseDir !== undefined && { baseDir: options.modelBaseDir }),
      ...(options.modelUrl !== undefined && { modelUrl: options.modelUrl }),
    });
    this.sageMaker = new LocalSageMaker({
      store: this.store,
      keyOf: keyOfLocalUrl,
      models: this.models,
      registry: new ResourceRegistry(this.store.root),
      ...(options.onTransformProgress && { onProgress: options.onTransformProgress }),
      ...(options.training && { training: options.training }),
    });
    const { store, sageMaker } = this;
    const planConfig: PlanConfig = {
      objectUrl: (key) => `s3://${LOCAL_BUCKET}/${key}`,
      servingImage: () => 'local/tensorflow-serving',
      trainingImage: 'local/tensorflow-training',
      packagingSource: packagingSource(TRAINING_SOURCE),
      localModels: true,
      // Jobs scored by a server given by URL need no model of their own.
      ...(options.modelUrl !== undefined && { defaultJob: { model: options.modelUrl } }),
    };
    const workers = shardThreads(Math.min(4, availableParallelism()));
    this.functions = {
      plan: createPlanHandler(() => ({ store, config: planConfig })),
      shard: createShardHandler(() => ({ store, workers })),
      route: createRouteHandler(() => ({ store })),
      score: createScoreHandler(() => ({ store, endpoints: sageMaker })),
      merge: createMergeHandler(() => ({ store })),
      finish: createFinishHandler(() => ({ store })),
      cleanup: createCleanupHandler(() => ({ store, jobs: sageMaker })),
    };
  }

  /** Runs one execution of the state machine to its end. */
  run(name: string, input: Record<string, unknown>, options: RunOptions = {}): Promise<ExecutionOutcome> {
    const sageMaker = this.sageMaker;
    return runExecution(
      name,
      input,
      {
        functions: this.functions,
        sageMaker: {
          createModel: (request) => sageMaker.createModel(request as never),
          deleteModel: (request) => sageMaker.deleteModel(request as never),
          createTransformJob: (request, stopped) =>
            stoppedWith(sageMaker.createTransformJob(request as never), stopped, () =>
              sageMaker.stopTransformJob(
                String((request as { TransformJobName?: unknown }).TransformJobName),
              ),
            ),
          createTrainingJob: (request, stopped) =>
            stoppedWith(sageMaker.createTrainingJob(request as never), stopped, () =>
              sageMaker.stopTrainingJob(String((request as { TrainingJobName?: unknown }).TrainingJobName)),
            ),
          createEndpointConfig: (request) => sageMaker.createEndpointConfig(request as never),
          createEndpoint: (request) => sageMaker.createEndpoint(request as never),
          describeEndpoint: (request) => sageMaker.describeEndpoint(request as never),
          deleteEndpoint: (request) => sageMaker.deleteEndpoint(request as never),
          deleteEndpointConfig: (request) => sageMaker.deleteEndpointConfig(request as never),
        },
        s3: {
          copyObject: (request) => copyObject(this.store, request as never),
        },
      },
      options,
    );
  }

  /**
   * Runs an execution queued under `name` (by a trigger, or by `start`), recording in the queue that it
   * runs and how it ended.
   */
  async execute(name: string, options: RunOptions = {}): Promise<ExecutionOutcome> {
    const queued = await this.executions.get(name);
    if (!queued) throw new Error(`no execution ${name} is queued`);
    await this.executions.update(name, {
      status: 'RUNNING',
      startedAt: new Date().toISOString(),
      pid: process.pid,
    });
    let outcome: ExecutionOutcome = { status: 'FAILED', error: { name: 'Error', message: 'interrupted' } };
    try {
      outcome = await this.run(name, queued.input, options);
      return outcome;
    } finally {
      await this.executions.update(name, {
        status: outcome.status,
        finishedAt: new Date().toISOString(),
        ...(outcome.status === 'FAILED' && { error: outcome.error }),
      });
    }
  }

  /** Stops the model servers still running. */
  close(): Promise<void> {
    return this.models.close();
  }
}

/**
 * A `.sync` job, stopped as Step Functions stops it when the execution is stopped. The job's promise
 * reports how it ended; stopping it fails only on a bug, which is left unhandled to be seen.
 */
function stoppedWith<T>(job: Promise<T>, stopped: AbortSignal, stop: () => Promise<boolean>): Promise<T> {
  stopped.addEventListener('abort', () => void stop(), { once: true });
  return job;
}

/** S3's CopyObject, within the local bucket: `CopySource` is `<bucket>/<key>`, URL-encoded. */
async function copyObject(
  store: LocalObjectStore,
  request: { Bucket: string; CopySource: string; Key: string },
): Promise<{ CopyObjectResult: { ETag: string } }> {
  const source = decodeURIComponent(request.CopySource);
  if (request.Bucket !== LOCAL_BUCKET || !source.startsWith(`${LOCAL_BUCKET}/`)) {
    throw new InvalidKeyError(
      `${request.CopySource} to ${request.Bucket}: local mode has one bucket, ${LOCAL_BUCKET}`,
    );
  }
  const sink = await store.write(request.Key);
  for await (const chunk of store.read(source.slice(LOCAL_BUCKET.length + 1))) await sink.write(chunk);
  await sink.close();
  const copied = await store.head(request.Key);
  return { CopyObjectResult: { ETag: copied?.etag ?? '' } };
}

/** `s3://local/<key>` as a key of the local store. */
export function keyOfLocalUrl(url: string): string {
  const prefix = `s3://${LOCAL_BUCKET}/`;
  if (!url.startsWith(prefix)) throw new InvalidKeyError(`${url} is not in the local bucket (${prefix})`);
  return url.slice(prefix.length);
}
