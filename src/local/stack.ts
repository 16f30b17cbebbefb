import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { optionalBytes } from '../adapters/environment.ts';
import { LocalExecutions, wasInterrupted } from '../adapters/local-executions.ts';
import { LocalObjectStore } from '../adapters/local-store.ts';
import { packagingSource } from '../adapters/packaging-source.ts';
import type { ProcessLock } from '../adapters/process-lock.ts';
import { thisProcess } from '../adapters/processes.ts';
import { InvalidKeyError, LockHeldError } from '../core/errors.ts';
import { shardThreads } from '../core/shard/threads.ts';
import { resultsPrefix, summaryKey, workPrefix } from '../core/steps/layout.ts';
import { sageMakerName } from '../core/steps/names.ts';
import type { PlanConfig } from '../core/steps/plan.ts';
import { inDeletionOrder } from '../core/sweep.ts';
import { createCleanupHandler } from '../handlers/cleanup.ts';
import { createFinishHandler } from '../handlers/finish.ts';
import { createMergeHandler } from '../handlers/merge.ts';
import { createPlanHandler } from '../handlers/plan.ts';
import { createRouteHandler } from '../handlers/route.ts';
import { createScoreHandler } from '../handlers/score.ts';
import { createShardHandler } from '../handlers/shard.ts';
import { ExecutionNotRunnableError } from './errors.ts';
import { LOCAL_BUCKET, LocalModelHost } from './model-host.ts';
import { type ExecutionOutcome, type LambdaHandler, type RunOptions, runExecution } from './runner.ts';
import { LocalSageMaker } from './sagemaker/index.ts';
import { ResourceRegistry } from './sagemaker/registry.ts';
import type { TrainingOptions } from './sagemaker/training.ts';
import { LocalSageMakerResources } from './sweep.ts';

export interface LocalStackOptions {
  /** The folder playing the bucket: inbox/, work/, results/, config/, executions/. */
  readonly dataDir: string;
  /** Prefixes whose folder in the data dir links to a folder of inputs elsewhere (see LocalObjectStore). */
  readonly linkedFolders?: readonly string[];
  /** Where a relative model path starts (the working folder by default). */
  readonly modelBaseDir?: string;
  /** A running container that speaks the SageMaker contract, used instead of the local model server. */
  readonly modelUrl?: string;
  /** Called as the transform's requests complete. */
  readonly onTransformProgress?: (event: { job: string; records: number; requests: number }) => void;
  /** How the training job that packages TF-Hub models runs its script here. */
  readonly training?: TrainingOptions;
  /**
   * The most bytes of a Parquet file one Shard invocation reads, beyond which it is split by row
   * groups (PIPELINE_PARQUET_PART_BYTES, else the plan's default).
   */
  readonly parquetPartBytes?: number;
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
  readonly #registry: ResourceRegistry;
  /** Executions running in this process, by name. */
  readonly #underWay = new Set<string>();
  #leaving = false;
  /** The step functions' handlers by name, as the state machine calls them; one can be invoked alone. */
  readonly functions: Readonly<Record<string, LambdaHandler>>;

  constructor(options: LocalStackOptions) {
    this.store = new LocalObjectStore(options.dataDir, { linkedFolders: options.linkedFolders ?? [] });
    this.executions = new LocalExecutions(options.dataDir);
    this.models = new LocalModelHost({
      dataDir: this.store.root,
      ...(options.modelBaseDir !== undefined && { baseDir: options.modelBaseDir }),
      ...(options.modelUrl !== undefined && { modelUrl: options.modelUrl }),
    });
    this.#registry = new ResourceRegistry(this.store.root);
    this.sageMaker = new LocalSageMaker({
      store: this.store,
      keyOf: keyOfLocalUrl,
      models: this.models,
      registry: this.#registry,
      ...(options.onTransformProgress && { onProgress: options.onTransformProgress }),
      ...(options.training && { training: options.training }),
    });
    const { store, sageMaker } = this;
    const partBytes = options.parquetPartBytes ?? optionalBytes(process.env, 'PIPELINE_PARQUET_PART_BYTES');
    const planConfig: PlanConfig = {
      objectUrl: (key) => `s3://${LOCAL_BUCKET}/${key}`,
      servingImage: () => 'local/tensorflow-serving',
      trainingImage: 'local/tensorflow-training',
      packagingSource: packagingSource(TRAINING_SOURCE),
      localModels: true,
      // Jobs scored by a server given by URL need no model of their own.
      ...(options.modelUrl !== undefined && { defaultJob: { model: options.modelUrl } }),
      ...(partBytes !== undefined && { parquetPartBytes: partBytes }),
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
   * Runs the execution queued as `name` (by a trigger, or with `options.input`) in this process,
   * recording in the queue that it runs and how it ended. One whose process ended while it ran is run
   * again from the start, once what that attempt left is cleared: its results so far, summary first,
   * its work files, half-written files and SageMaker resources. Throws ExecutionNotRunnableError when
   * another process runs it, or it has ended.
   */
  async execute(name: string, options: ExecuteOptions = {}): Promise<ExecutionOutcome> {
    const claim = await this.#claim(name);
    try {
      if (options.input) await this.executions.start(name, options.input);
      const queued = await this.executions.get(name);
      if (!queued) throw new Error(`no execution ${name} is queued`);
      if (queued.status !== undefined) {
        if (!wasInterrupted(queued)) {
          throw new ExecutionNotRunnableError(`job ${name} has already ended (${queued.status})`);
        }
        await this.#clearAttempt(name);
      }
      const owner = thisProcess();
      await this.executions.update(name, {
        status: 'RUNNING',
        startedAt: new Date().toISOString(),
        pid: owner.pid,
        processStart: owner.start,
      });
      this.#underWay.add(name);
      let outcome: ExecutionOutcome = { status: 'FAILED', error: { name: 'Error', message: 'interrupted' } };
      try {
        outcome = await this.run(name, queued.input, options);
        return outcome;
      } finally {
        this.#underWay.delete(name);
        if (!this.#leaving) {
          await this.executions.update(name, {
            status: outcome.status,
            finishedAt: new Date().toISOString(),
            ...(outcome.status === 'FAILED' && { error: outcome.error }),
          });
        }
      }
    } finally {
      if (!this.#leaving) await claim.release();
    }
  }

  /**
   * Ends an execution whose process ended while it ran, without running it again: what that attempt
   * left is cleared, and it is recorded ABORTED for `reason`.
   */
  async endInterrupted(name: string, reason: string): Promise<void> {
    const claim = await this.#claim(name);
    try {
      const execution = await this.executions.get(name);
      if (!execution || !wasInterrupted(execution)) {
        throw new ExecutionNotRunnableError(`job ${name} was not interrupted`);
      }
      await this.#clearAttempt(name);
      await this.executions.update(name, {
        status: 'ABORTED',
        finishedAt: new Date().toISOString(),
        error: { name: 'Interrupted', message: reason },
      });
    } finally {
      await claim.release();
    }
  }

  /**
   * Lets go of the executions under way, for the next start to run again once this process has ended:
   * how they end is not recorded (they stay RUNNING under this process), and their SageMaker jobs and
   * model servers are stopped. The names of those left.
   */
  async leave(): Promise<string[]> {
    this.#leaving = true;
    const left = [...this.#underWay];
    await this.sageMaker.close();
    await this.models.close();
    return left;
  }

  /** Starts loading a job's model while the steps before scoring run (see LocalModelHost.prepare). */
  prepareModel(model: string): void {
    this.models.prepare(model);
  }

  /** Stops the model servers still running. */
  close(): Promise<void> {
    return this.models.close();
  }

  async #claim(name: string): Promise<ProcessLock> {
    try {
      return await this.executions.claim(name);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      throw new ExecutionNotRunnableError(`job ${name} is running in process ${error.holder}`, {
        cause: error,
      });
    }
  }

  async #clearAttempt(jobId: string): Promise<void> {
    await this.store.deletePrefix(summaryKey(jobId));
    for (const prefix of [resultsPrefix(jobId), workPrefix(jobId)]) {
      for (const file of await this.store.temporaries(prefix)) await this.store.deleteTemporary(file.path);
      await this.store.deletePrefix(prefix);
    }
    const resources = new LocalSageMakerResources(this.#registry, this.sageMaker);
    const named = sageMakerName(jobId);
    for (const resource of inDeletionOrder(await resources.list(named))) {
      if (resource.name === named) await resources.delete(resource);
    }
  }
}

export interface ExecuteOptions extends RunOptions {
  /** The execution's input, to queue it under this process's claim (so that no service runs it first). */
  readonly input?: Record<string, unknown>;
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
