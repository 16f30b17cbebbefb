import type {
  BatchStrategy,
  CreateTransformJobRequest,
  TransformInput,
  TransformOutput,
  TransformResources,
} from '@aws-sdk/client-sagemaker';
import type { ObjectStore } from '../../core/ports/object-store.ts';
import { SPLIT_TYPES, type SplitType } from '../../core/spec/split-types.ts';
import { ContainerUrlError, SageMakerJobError, TransformFailure, validationError } from '../errors.ts';
import { ContainerClient } from './container-client.ts';
import type { ModelServer } from './model-host-port.ts';
import type { LocalModel } from './models.ts';
import { arn, checkInteger, checkName, checkOneOf, missing } from './names.ts';
import { runTransform } from './transform.ts';

export interface TransformProgress {
  readonly job: string;
  /** Records in the request that completed. */
  readonly records: number;
  /** HTTP requests it took: 1, or more when it was retried. */
  readonly requests: number;
}

export interface LocalTransformJobsOptions {
  /** Where s3:// URLs point. */
  readonly store: ObjectStore;
  /** s3://<bucket>/<key> as a key of the store; throws for a URL outside it. */
  readonly keyOf: (url: string) => string;
  /** A model that exists, by name. */
  readonly model: (name: string) => LocalModel | undefined;
  /** Called as a transform job's requests complete. */
  readonly onProgress?: (event: TransformProgress) => void;
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

// SageMaker's defaults for what neither the request nor the container's /execution-parameters sets.
const DEFAULT_CONCURRENCY = 1;
const DEFAULT_PAYLOAD_MB = 6;
const DEFAULT_TIMEOUT_SECONDS = 600;
const DEFAULT_RETRIES = 3;
const EXECUTION_PARAMETERS_TIMEOUT_MS = 2000;
const MB = 1024 * 1024;

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
  readonly model: LocalModel;
  readonly inputUri: string;
  readonly dataType: 'S3Prefix' | 'ManifestFile';
  readonly inputPrefix: string;
  readonly outputPrefix: string;
  readonly splitType: SplitType;
  /** Whether each object is decompressed (CompressionType Gzip) before it is read into requests. */
  readonly gzip: boolean;
  readonly environment: Record<string, string>;
}

/**
 * Transform jobs that run SageMaker Batch Transform's data plane against a server for their model. A
 * request SageMaker would refuse throws its ValidationException; a job that fails or is stopped rejects
 * with SageMakerJobError.
 */
export class LocalTransformJobs {
  readonly #options: LocalTransformJobsOptions;
  /** Every transform job ever created: a job name is never used twice. */
  readonly #jobs = new Map<string, TransformJob>();

  constructor(options: LocalTransformJobsOptions) {
    this.#options = options;
  }

  /**
   * `createTransformJob.sync`: runs the job and resolves once it has Completed; rejects with
   * SageMakerJobError when it Failed (its FailureReason leads the message) or was Stopped.
   */
  async create(input: CreateTransformJobRequest): Promise<TransformJobDescription> {
    const request = this.#check(input);
    const job: TransformJob = {
      status: 'InProgress',
      controller: new AbortController(),
      settled: Promise.resolve(),
    };
    this.#jobs.set(request.name.toLowerCase(), job);
    const run = this.#run(request, job);
    // Only for stop to wait on: the outcome itself goes to the caller.
    job.settled = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Stops the transform job if it is running and waits until it has let go of its requests and outputs. */
  async stop(name: string): Promise<boolean> {
    const job = this.#jobs.get(name.toLowerCase());
    if (job?.status !== 'InProgress') return false;
    job.controller.abort();
    await job.settled;
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#jobs.keys()].map((name) => this.stop(name)));
  }

  #check(input: CreateTransformJobRequest): TransformRequest {
    const name = checkName('transformJobName', input.TransformJobName);
    if (this.#jobs.has(name.toLowerCase())) {
      throw validationError(
        `Job name must be unique within an AWS account and region, and a job with this name already exists (${arn('transform-job', name)})`,
      );
    }
    if (input.ModelName === undefined) throw missing('modelName');
    const model = this.#options.model(input.ModelName);
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
    if (source.S3DataType !== 'S3Prefix' && source.S3DataType !== 'ManifestFile') {
      throw validationError(
        `S3DataType ${source.S3DataType} is not supported locally; use S3Prefix or ManifestFile.`,
      );
    }
    const splitType = input.TransformInput?.SplitType ?? 'None';
    checkOneOf('transformInput.splitType', splitType, SPLIT_TYPES);
    const compression = input.TransformInput?.CompressionType ?? 'None';
    checkOneOf('transformInput.compressionType', compression, ['None', 'Gzip']);
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
      dataType: source.S3DataType,
      inputPrefix: this.#options.keyOf(source.S3Uri),
      outputPrefix: outputPrefix === '' || outputPrefix.endsWith('/') ? outputPrefix : `${outputPrefix}/`,
      splitType: splitType as SplitType,
      gzip: compression === 'Gzip',
      environment: containerEnvironment(model, input),
    };
  }

  async #run(request: TransformRequest, job: TransformJob): Promise<TransformJobDescription> {
    const { name, input, model } = request;
    const signal = job.controller.signal;
    const startedAt = Date.now();
    return model.use(async () => {
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
              dataType: request.dataType,
              inputPrefix: request.inputPrefix,
              keyOf: this.#options.keyOf,
              outputPrefix: request.outputPrefix,
              splitType: request.splitType,
              gzip: request.gzip,
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
      }
    });
  }

  async #serverFor(model: LocalModel, environment: Record<string, string>): Promise<ModelServer> {
    const starting = model.server(environment);
    try {
      return await starting;
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
function containerEnvironment(model: LocalModel, input: CreateTransformJobRequest): Record<string, string> {
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

/** SageMaker tells what the user can fix (ClientError) from what went wrong on its side. */
function failureReason(error: unknown): string {
  if (error instanceof TransformFailure) return error.message;
  if (error instanceof ContainerUrlError) return `ClientError: ${error.message}`;
  return `InternalServerError: ${(error as Error).message}`;
}
