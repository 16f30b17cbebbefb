import type {
  BatchStrategy,
  CreateEndpointConfigInput,
  CreateEndpointInput,
  CreateModelInput,
  CreateTrainingJobRequest,
  CreateTransformJobRequest,
  DeleteEndpointConfigInput,
  DeleteEndpointInput,
  DeleteModelInput,
  DescribeEndpointInput,
  TransformInput,
  TransformOutput,
  TransformResources,
} from '@aws-sdk/client-sagemaker';
import type { EndpointInvoker, EndpointRequest } from '../core/ports/endpoints.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import type { SageMakerJobs } from '../core/ports/sagemaker-jobs.ts';
import type { SplitType } from '../core/shard/sharder.ts';
import { ContainerClient, ContainerUrlError } from './sagemaker/container-client.ts';
import { type EndpointDescription, LocalEndpoints } from './sagemaker/endpoints.ts';
import { SageMakerJobError, TransformFailure, validationError } from './sagemaker/errors.ts';
import { arn, checkInteger, checkName, checkOneOf, missing, NAME_PATTERN } from './sagemaker/names.ts';
import type { ResourceRegistry } from './sagemaker/registry.ts';
import {
  LocalTrainingJobs,
  type TrainingJobDescription,
  type TrainingOptions,
} from './sagemaker/training.ts';
import { runTransform } from './sagemaker/transform.ts';

export { SageMakerApiError, SageMakerJobError } from './sagemaker/errors.ts';

export interface ModelContainer {
  readonly image: string;
  readonly modelDataUrl: string;
  readonly environment: Record<string, string>;
}

export interface ModelServer {
  /** Base URL of a server that speaks the SageMaker container contract (/ping, /invocations). */
  readonly url: string;
  close(): Promise<void>;
}

export interface ModelHost {
  /**
   * Starts (or reuses) a server for the container's model and resolves once it answers /ping. Each
   * server started is closed once, when its model is deleted and no job uses it any more.
   */
  start(container: ModelContainer): Promise<ModelServer>;
}

export interface TransformProgress {
  readonly job: string;
  /** Records in the request that completed. */
  readonly records: number;
  /** HTTP requests it took: 1, or more when it was retried. */
  readonly requests: number;
}

export interface LocalSageMakerOptions {
  /** Where s3:// URLs point. */
  readonly store: ObjectStore;
  /** s3://<bucket>/<key> as a key of the store; throws for a URL outside it. */
  readonly keyOf: (url: string) => string;
  readonly models: ModelHost;
  /** Called as a transform job's requests complete. */
  readonly onProgress?: (event: TransformProgress) => void;
  /** Where the models created are recorded until deleted, for other processes to see (`pipeline sweep`). */
  readonly registry?: ResourceRegistry;
  /** How training jobs run their scripts here. */
  readonly training?: TrainingOptions;
}

/** What `createTransformJob.sync` returns: the completed job as DescribeTransformJob shows it. */
export interface TransformJobDescription {
  readonly TransformJobName: string;
  readonly TransformJobArn: string;
  readonly TransformJobStatus: 'Completed';
  readonly ModelName: string;
  readonly MaxConcurrentTransforms: number;
  readonly MaxPayloadInMB: number;
  readonly BatchStrategy: BatchStrategy;
  readonly ModelClientConfig: { InvocationsTimeoutInSeconds: number; InvocationsMaxRetries: number };
  readonly Environment: Record<string, string>;
  readonly TransformInput: TransformInput;
  readonly TransformOutput: TransformOutput;
  readonly TransformResources?: TransformResources;
  /** Times in epoch milliseconds, as Step Functions passes them on. */
  readonly CreationTime: number;
  readonly TransformStartTime: number;
  readonly TransformEndTime: number;
}

const SPLIT_TYPES: readonly SplitType[] = ['None', 'Line', 'RecordIO', 'TFRecord'];
// SageMaker's defaults for what neither the request nor the container's /execution-parameters sets.
const DEFAULT_CONCURRENCY = 1;
const DEFAULT_PAYLOAD_MB = 6;
const DEFAULT_TIMEOUT_SECONDS = 600;
const DEFAULT_RETRIES = 3;
const EXECUTION_PARAMETERS_TIMEOUT_MS = 2000;
const MB = 1024 * 1024;

interface Model {
  readonly name: string;
  readonly container: ModelContainer;
  /** Servers by the environment they were started with: a job's own Environment adds to the model's. */
  readonly servers: Map<string, Promise<ModelServer>>;
  /** Jobs using the model now; a deleted model's servers close when the last one ends. */
  running: number;
  deleted: boolean;
}

interface TransformJob {
  status: 'InProgress' | 'Completed' | 'Failed' | 'Stopped';
  readonly controller: AbortController;
  /** Settles when the job has ended and let go of everything it used. */
  settled: Promise<void>;
}

/** A validated CreateTransformJob request. */
interface TransformRequest {
  readonly name: string;
  readonly input: CreateTransformJobRequest;
  readonly model: Model;
  readonly inputUri: string;
  readonly inputPrefix: string;
  readonly outputPrefix: string;
  readonly splitType: SplitType;
  readonly environment: Record<string, string>;
}

/**
 * SageMaker on one machine, for the state machine's SageMaker tasks: models, and transform jobs that
 * run SageMaker Batch Transform's data plane against a model server from the ModelHost. Calls fail as
 * Step Functions reports SageMaker's failures: a refused call as `SageMaker.*Exception`, a `.sync`
 * job that fails or is stopped as `States.TaskFailed`.
 */
export class LocalSageMaker implements SageMakerJobs, EndpointInvoker {
  readonly #options: LocalSageMakerOptions;
  /** By name in lower case: SageMaker names are unique regardless of case, as their ARNs show. */
  readonly #models = new Map<string, Model>();
  /** Every transform job ever created: a job name is never used twice. */
  readonly #jobs = new Map<string, TransformJob>();

  readonly #endpoints: LocalEndpoints;
  readonly #training: LocalTrainingJobs;

  constructor(options: LocalSageMakerOptions) {
    this.#options = options;
    this.#endpoints = new LocalEndpoints({
      models: options.models,
      model: (name) => this.#models.get(name.toLowerCase())?.container,
      ...(options.registry && { registry: options.registry }),
    });
    this.#training = new LocalTrainingJobs({
      store: options.store,
      keyOf: options.keyOf,
      ...options.training,
    });
  }

  async createModel(input: CreateModelInput): Promise<{ ModelArn: string }> {
    const name = checkName('modelName', input.ModelName);
    const container = input.PrimaryContainer;
    if (!container)
      throw validationError('A PrimaryContainer is required: local mode runs one container per model.');
    const exists = () => validationError(`Cannot create already existing model "${arn('model', name)}".`);
    if (this.#models.has(name.toLowerCase())) throw exists();
    if (this.#options.registry && !(await this.#options.registry.add('model', name))) throw exists();
    this.#models.set(name.toLowerCase(), {
      name,
      container: {
        image: container.Image ?? '',
        modelDataUrl: container.ModelDataUrl ?? '',
        environment: { ...container.Environment },
      },
      servers: new Map(),
      running: 0,
      deleted: false,
    });
    return { ModelArn: arn('model', name) };
  }

  /**
   * Called through the AWS SDK integration (`aws-sdk:sagemaker:deleteModel`), and named as it names
   * errors. A model another process recorded (and left behind) is deleted too.
   */
  async deleteModel(input: DeleteModelInput): Promise<Record<string, never>> {
    const name = input.ModelName ?? '';
    const model = this.#models.get(name.toLowerCase());
    const recorded =
      NAME_PATTERN.test(name) && this.#options.registry !== undefined
        ? await this.#options.registry.remove('model', name)
        : false;
    if (!model && !recorded) throw validationError(`Could not find model "${arn('model', name)}".`, 'sdk');
    if (!model) return {};
    this.#models.delete(name.toLowerCase());
    model.deleted = true;
    if (model.running === 0) await closeServers(model);
    return {};
  }

  /** The models that exist, by name: with a registry, those it records, whichever process made them. */
  models(): string[] {
    return this.#options.registry?.names('model') ?? [...this.#models.values()].map((model) => model.name);
  }

  /**
   * `createTransformJob.sync`: runs the job and resolves once it has Completed; rejects with
   * SageMakerJobError when it Failed (its FailureReason leads the message) or was Stopped.
   */
  async createTransformJob(input: CreateTransformJobRequest): Promise<TransformJobDescription> {
    const request = this.#checkTransform(input);
    const job: TransformJob = {
      status: 'InProgress',
      controller: new AbortController(),
      settled: Promise.resolve(),
    };
    this.#jobs.set(request.name.toLowerCase(), job);
    const run = this.#runTransformJob(request, job);
    // Only for stopTransformJob to wait on: the outcome itself goes to the caller.
    job.settled = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** `createTrainingJob.sync`: runs a script-mode job with the machine's Python (see LocalTrainingJobs). */
  createTrainingJob(input: CreateTrainingJobRequest): Promise<TrainingJobDescription> {
    return this.#training.create(input);
  }

  createEndpointConfig(input: CreateEndpointConfigInput): Promise<{ EndpointConfigArn: string }> {
    return this.#endpoints.createEndpointConfig(input);
  }

  createEndpoint(input: CreateEndpointInput): Promise<{ EndpointArn: string }> {
    return this.#endpoints.createEndpoint(input);
  }

  describeEndpoint(input: DescribeEndpointInput): Promise<EndpointDescription> {
    return this.#endpoints.describeEndpoint(input);
  }

  deleteEndpoint(input: DeleteEndpointInput): Promise<Record<string, never>> {
    return this.#endpoints.deleteEndpoint(input);
  }

  deleteEndpointConfig(input: DeleteEndpointConfigInput): Promise<Record<string, never>> {
    return this.#endpoints.deleteEndpointConfig(input);
  }

  /** SageMaker Runtime's InvokeEndpoint, on a local endpoint. */
  invokeEndpoint(request: EndpointRequest): Promise<Buffer> {
    return this.#endpoints.invoke(request);
  }

  /** The endpoints and endpoint configs that exist, by name. */
  endpoints(): { endpoints: string[]; endpointConfigs: string[] } {
    return this.#endpoints.names();
  }

  /** Stops the transform job if it is running and waits until it has let go of its requests and outputs. */
  async stopTransformJob(name: string): Promise<boolean> {
    const job = this.#jobs.get(name.toLowerCase());
    if (job?.status !== 'InProgress') return false;
    job.controller.abort();
    await job.settled;
    return true;
  }

  /** Stops the training job if it is running and waits until its process has ended. */
  stopTrainingJob(name: string): Promise<boolean> {
    return this.#training.stop(name);
  }

  /**
   * Stops every running job, endpoint and model server; models stay, and start a server again when a job
   * needs one.
   */
  async close(): Promise<void> {
    await Promise.all([...this.#jobs.keys()].map((name) => this.stopTransformJob(name)));
    await this.#training.close();
    await this.#endpoints.close();
    for (const model of this.#models.values()) await closeServers(model);
  }

  #checkTransform(input: CreateTransformJobRequest): TransformRequest {
    const name = checkName('transformJobName', input.TransformJobName);
    if (this.#jobs.has(name.toLowerCase())) {
      throw validationError(
        `Job name must be unique within an AWS account and region, and a job with this name already exists (${arn('transform-job', name)})`,
      );
    }
    if (input.ModelName === undefined) throw missing('modelName');
    const model = this.#models.get(input.ModelName.toLowerCase());
    if (!model) throw validationError(`Could not find model "${arn('model', input.ModelName)}".`);
    checkInteger('maxConcurrentTransforms', input.MaxConcurrentTransforms, 0, Number.MAX_SAFE_INTEGER);
    checkInteger('maxPayloadInMB', input.MaxPayloadInMB, 0, 100);
    const client = input.ModelClientConfig;
    checkInteger(
      'modelClientConfig.invocationsTimeoutInSeconds',
      client?.InvocationsTimeoutInSeconds,
      1,
      3600,
    );
    checkInteger('modelClientConfig.invocationsMaxRetries', client?.InvocationsMaxRetries, 0, 3);
    checkOneOf('batchStrategy', input.BatchStrategy, ['MultiRecord', 'SingleRecord']);
    const { MaxConcurrentTransforms: concurrency, MaxPayloadInMB: payload } = input;
    if (payload === 0 && input.BatchStrategy !== 'SingleRecord') {
      throw validationError('MaxPayloadInMB 0 (no limit) is only allowed with BatchStrategy SingleRecord.');
    }
    if (concurrency && payload !== undefined && concurrency * payload > 100) {
      throw validationError(
        `MaxConcurrentTransforms (${concurrency}) × MaxPayloadInMB (${payload}) is ${concurrency * payload} MB; it must not exceed 100 MB.`,
      );
    }
    const source = input.TransformInput?.DataSource?.S3DataSource;
    if (!source?.S3Uri) throw missing('transformInput.dataSource.s3DataSource.s3Uri');
    if (source.S3DataType !== 'S3Prefix') {
      throw validationError(`S3DataType ${source.S3DataType} is not supported locally; use S3Prefix.`);
    }
    const splitType = input.TransformInput?.SplitType ?? 'None';
    checkOneOf('transformInput.splitType', splitType, SPLIT_TYPES);
    if ((input.TransformInput?.CompressionType ?? 'None') !== 'None') {
      throw validationError(
        `CompressionType ${input.TransformInput?.CompressionType} is not supported locally.`,
      );
    }
    const outputPath = input.TransformOutput?.S3OutputPath;
    if (!outputPath) throw missing('transformOutput.s3OutputPath');
    checkOneOf('transformOutput.assembleWith', input.TransformOutput?.AssembleWith, ['None', 'Line']);
    const processing = input.DataProcessing;
    const filters = [processing?.InputFilter, processing?.OutputFilter].filter(
      (f) => f !== undefined && f !== '$',
    );
    if (filters.length > 0 || processing?.JoinSource === 'Input') {
      throw validationError(
        'DataProcessing is not supported locally: the pipeline filters and joins records itself.',
      );
    }
    const outputPrefix = this.#options.keyOf(outputPath);
    return {
      name,
      input,
      model,
      inputUri: source.S3Uri,
      inputPrefix: this.#options.keyOf(source.S3Uri),
      outputPrefix: outputPrefix === '' || outputPrefix.endsWith('/') ? outputPrefix : `${outputPrefix}/`,
      splitType: splitType as SplitType,
      environment: containerEnvironment(model, input),
    };
  }

  async #runTransformJob(request: TransformRequest, job: TransformJob): Promise<TransformJobDescription> {
    const { name, input, model } = request;
    const signal = job.controller.signal;
    const startedAt = Date.now();
    model.running++;
    try {
      const server = await this.#serverFor(model, request.environment);
      signal.throwIfAborted();
      const client = new ContainerClient(server.url);
      try {
        const parameters = await resolveParameters(input, client, signal);
        const timeoutSeconds =
          input.ModelClientConfig?.InvocationsTimeoutInSeconds ?? DEFAULT_TIMEOUT_SECONDS;
        const maxRetries = input.ModelClientConfig?.InvocationsMaxRetries ?? DEFAULT_RETRIES;
        const { onProgress } = this.#options;
        await runTransform(
          {
            job: name,
            inputUri: request.inputUri,
            inputPrefix: request.inputPrefix,
            outputPrefix: request.outputPrefix,
            splitType: request.splitType,
            multiRecord: parameters.batchStrategy === 'MultiRecord',
            payloadLimit:
              parameters.payloadInMB === 0 ? Number.MAX_SAFE_INTEGER : parameters.payloadInMB * MB,
            concurrency: parameters.concurrency,
            ...(input.TransformInput?.ContentType !== undefined && {
              contentType: input.TransformInput.ContentType,
            }),
            ...(input.TransformOutput?.Accept !== undefined && { accept: input.TransformOutput.Accept }),
            assembleWith: input.TransformOutput?.AssembleWith ?? 'None',
            timeoutSeconds,
            maxRetries,
            ...(onProgress && { onProgress }),
          },
          this.#options.store,
          client,
          signal,
        );
        job.status = 'Completed';
        return {
          TransformJobName: name,
          TransformJobArn: arn('transform-job', name),
          TransformJobStatus: 'Completed',
          ModelName: model.name,
          MaxConcurrentTransforms: parameters.concurrency,
          MaxPayloadInMB: parameters.payloadInMB,
          BatchStrategy: parameters.batchStrategy,
          ModelClientConfig: {
            InvocationsTimeoutInSeconds: timeoutSeconds,
            InvocationsMaxRetries: maxRetries,
          },
          Environment: { ...input.Environment },
          TransformInput: input.TransformInput as TransformInput,
          TransformOutput: input.TransformOutput as TransformOutput,
          ...(input.TransformResources && { TransformResources: input.TransformResources }),
          CreationTime: startedAt,
          TransformStartTime: startedAt,
          TransformEndTime: Date.now(),
        };
      } finally {
        client.close();
      }
    } catch (error) {
      if (signal.aborted) {
        job.status = 'Stopped';
        throw new SageMakerJobError(
          name,
          'Stopped',
          `Stopped: transform job ${name} was stopped before it completed`,
        );
      }
      job.status = 'Failed';
      throw new SageMakerJobError(name, 'Failed', failureReason(error), { cause: error });
    } finally {
      model.running--;
      if (model.deleted && model.running === 0) await closeServers(model);
    }
  }

  /** The model's server for this environment, started on first use; a start that fails is not kept. */
  async #serverFor(model: Model, environment: Record<string, string>): Promise<ModelServer> {
    const key = JSON.stringify(Object.entries(environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let server = model.servers.get(key);
    if (!server) {
      server = this.#options.models.start({ ...model.container, environment });
      model.servers.set(key, server);
      const started = server;
      started.then(undefined, () => {
        if (model.servers.get(key) === started) model.servers.delete(key);
      });
    }
    try {
      return await server;
    } catch (error) {
      throw new TransformFailure(
        `ClientError: the model server for model ${model.name} could not start: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

/**
 * The container's environment, as SageMaker sets it for a transform job: the model's, the batch
 * settings the request gives, then the job's own Environment.
 */
function containerEnvironment(model: Model, input: CreateTransformJobRequest): Record<string, string> {
  const strategy = { MultiRecord: 'MULTI_RECORD', SingleRecord: 'SINGLE_RECORD' };
  return {
    ...model.container.environment,
    SAGEMAKER_BATCH: 'true',
    ...(input.MaxPayloadInMB !== undefined && { SAGEMAKER_MAX_PAYLOAD_IN_MB: String(input.MaxPayloadInMB) }),
    ...(input.BatchStrategy !== undefined && { SAGEMAKER_BATCH_STRATEGY: strategy[input.BatchStrategy] }),
    ...(input.MaxConcurrentTransforms && {
      SAGEMAKER_MAX_CONCURRENT_TRANSFORMS: String(input.MaxConcurrentTransforms),
    }),
    ...input.Environment,
  };
}

interface BatchParameters {
  readonly concurrency: number;
  readonly payloadInMB: number;
  readonly batchStrategy: BatchStrategy;
}

/**
 * MaxConcurrentTransforms, MaxPayloadInMB and BatchStrategy as SageMaker settles them: the request's,
 * else what the container's optional GET /execution-parameters asks for, else the defaults. Values the
 * container gives outside SageMaker's ranges are not used.
 */
async function resolveParameters(
  input: CreateTransformJobRequest,
  client: ContainerClient,
  signal: AbortSignal,
): Promise<BatchParameters> {
  const concurrency = input.MaxConcurrentTransforms || undefined;
  const payloadInMB = input.MaxPayloadInMB;
  const batchStrategy = input.BatchStrategy;
  if (concurrency !== undefined && payloadInMB !== undefined && batchStrategy !== undefined) {
    return { concurrency, payloadInMB, batchStrategy };
  }
  const asked = await executionParameters(client, signal);
  const strategies: Record<string, BatchStrategy> = {
    MULTI_RECORD: 'MultiRecord',
    SINGLE_RECORD: 'SingleRecord',
  };
  return {
    concurrency:
      concurrency ??
      integerIn(asked.MaxConcurrentTransforms, 1, Number.MAX_SAFE_INTEGER) ??
      DEFAULT_CONCURRENCY,
    payloadInMB: payloadInMB ?? integerIn(asked.MaxPayloadInMB, 1, 100) ?? DEFAULT_PAYLOAD_MB,
    batchStrategy: batchStrategy ?? strategies[String(asked.BatchStrategy)] ?? 'MultiRecord',
  };
}

function integerIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? value
    : undefined;
}

async function executionParameters(
  client: ContainerClient,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  let response: { status: number; body: Buffer };
  try {
    response = await client.send('GET', '/execution-parameters', {
      timeoutMs: EXECUTION_PARAMETERS_TIMEOUT_MS,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new TransformFailure(
      `ClientError: the model container at ${client.url} did not answer GET /execution-parameters: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // The endpoint is optional: a container without it answers 404.
  if (response.status !== 200) return {};
  try {
    const parsed = JSON.parse(response.body.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch (error) {
    throw new TransformFailure(
      'ClientError: the model container answered GET /execution-parameters with invalid JSON',
      {
        cause: error,
      },
    );
  }
  throw new TransformFailure(
    'ClientError: the model container answered GET /execution-parameters with no JSON object',
  );
}

async function closeServers(model: Model): Promise<void> {
  const starting = [...model.servers.values()];
  model.servers.clear();
  // A server that never started was reported to the job that asked for it; there is nothing to close.
  for (const outcome of await Promise.allSettled(starting)) {
    if (outcome.status === 'fulfilled') await outcome.value.close();
  }
}

/** SageMaker tells what the user can fix (ClientError) from what went wrong on its side. */
function failureReason(error: unknown): string {
  if (error instanceof TransformFailure) return error.message;
  if (error instanceof ContainerUrlError) return `ClientError: ${error.message}`;
  return `InternalServerError: ${(error as Error).message}`;
}
