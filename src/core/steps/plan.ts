import {
  InputNotFoundError,
  JobSpecError,
  NoInputError,
  PlanTooLargeError,
  TooManyInputsError,
} from '../errors.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type CompiledJob, checkInput, resolveJob } from '../spec/compile.ts';
import type { JobSpec } from '../spec/job.ts';
import { asJobSource, DEFAULT_JOB_KEY, type JobSource, readJobSource, sidecarKey } from '../spec/sources.ts';
import { writeJobRecord } from './job-record.ts';
import { inputName, isInputObject, outputsPrefix, shardsPrefix } from './layout.ts';
import { sageMakerName } from './names.ts';
import { type Packaging, type PackagingConfig, planPackaging } from './packaging.ts';

export interface PlanRequest {
  /** The execution's name: unique, and the base of every name the job creates. */
  readonly jobId: string;
  readonly inputs: readonly string[];
  /** The job spec from the webhook body or the command line. */
  readonly job?: unknown;
  /** The job this one reruns, named in its summary. */
  readonly rerunOf?: string;
}

export interface PlannedInput {
  readonly index: number;
  readonly key: string;
  readonly name: string;
  readonly size: number;
}

/** Where the plan points SageMaker: deployment settings, not part of the job spec. */
export interface PlanConfig extends PackagingConfig {
  /** The TensorFlow Serving inference image for the instance type (`serverless`: a serverless endpoint, CPU). */
  readonly servingImage: (instanceType: string) => string;
  /** Whether a model may be a local folder (local mode only). */
  readonly localModels: boolean;
  /** Starts every SageMaker name, so that IAM can scope the service to what it creates. */
  readonly namePrefix?: string;
  /** The deployment's defaults for every job spec, under the bucket's config/default-job.json. */
  readonly defaultJob?: JobSource;
}

/** Everything the later states need; small, since it travels in the state machine's data. */
export interface Plan {
  readonly jobId: string;
  readonly spec: JobSpec;
  readonly inputs: PlannedInput[];
  /** SageMaker names: at most 63 characters of [A-Za-z0-9-], unique per job. */
  readonly names: {
    readonly model: string;
    readonly transform: string;
    readonly training: string;
    readonly endpoint: string;
    readonly endpointConfig: string;
  };
  /** A TF-Hub handle not packaged before: PackageModel runs. */
  readonly packageModel: boolean;
  readonly model: {
    /** The image for the transform job's instance type. */
    readonly image: string;
    /** The image for a serverless endpoint. */
    readonly serverlessImage: string;
    readonly dataUrl: string;
    readonly environment: Record<string, string>;
  };
  readonly packaging?: Packaging;
  readonly transform: {
    readonly inputUri: string;
    readonly outputUri: string;
    readonly contentType: string;
    readonly splitType: string;
    readonly environment: Record<string, string>;
  };
  readonly startedAt: string;
  readonly rerunOf?: string;
}

/** The most inputs one job takes, and the most its plan may weigh: it travels in the state's data (256 KB). */
export const MAX_INPUTS = 1000;
export const MAX_PLAN_BYTES = 200 * 1024;

/**
 * Compiles the job spec (the deployment's defaults, the bucket's config/default-job.json, a sidecar
 * `<input>.job.json` when the job has one input, then the request's), checks the inputs exist, and names
 * what the job will create. Only once all is valid does it write the job's record; a bad request
 * costs nothing.
 */
export async function planJob(
  request: PlanRequest,
  store: ObjectStore,
  config: PlanConfig,
  now = new Date(),
): Promise<Plan> {
  if (request.inputs.length === 0) throw new NoInputError(`job ${request.jobId} has no inputs`);
  const job = await compileSources(request, store, config);
  const { spec } = job;
  const inputs: PlannedInput[] = [];
  for await (const input of listInputs(request.inputs, store)) {
    checkInput(spec, input.key, input.name);
    inputs.push({ index: inputs.length, ...input });
    if (inputs.length > MAX_INPUTS) {
      throw new TooManyInputsError(
        `job ${request.jobId} has over ${MAX_INPUTS} inputs; one job takes at most ${MAX_INPUTS}`,
      );
    }
  }
  if (inputs.length === 0) {
    throw new NoInputError(
      `job ${request.jobId} has no inputs: ${request.inputs.join(', ')} hold no input object`,
    );
  }
  const base = sageMakerName(config.namePrefix ? `${config.namePrefix}-${request.jobId}` : request.jobId);
  const packaged = spec.model.startsWith('tfhub:')
    ? await planPackaging(store, config, spec, request.jobId, base)
    : undefined;
  const modelName = packaged?.modelName ?? spec.modelName;
  const plan: Plan = {
    jobId: request.jobId,
    spec,
    inputs,
    names: { model: base, transform: base, training: base, endpoint: base, endpointConfig: base },
    packageModel: packaged?.packaging !== undefined,
    model: {
      image: config.servingImage(spec.instanceType),
      serverlessImage: config.servingImage('serverless'),
      dataUrl: packaged?.dataUrl ?? spec.model,
      environment: {
        ...(modelName !== undefined && { SAGEMAKER_TFS_DEFAULT_MODEL_NAME: modelName }),
        ...spec.environment,
      },
    },
    ...(packaged?.packaging && { packaging: packaged.packaging }),
    transform: {
      inputUri: config.objectUrl(shardsPrefix(request.jobId)),
      outputUri: config.objectUrl(outputsPrefix(request.jobId)),
      contentType: job.shards.contentType,
      splitType: job.shards.splitType,
      environment: {},
    },
    startedAt: now.toISOString(),
    ...(request.rerunOf !== undefined && { rerunOf: request.rerunOf }),
  };
  const size = Buffer.byteLength(JSON.stringify(plan));
  if (size > MAX_PLAN_BYTES) {
    throw new PlanTooLargeError(
      `job ${request.jobId}'s plan is ${Math.ceil(size / 1024)} KB, over the ${MAX_PLAN_BYTES / 1024} KB a state ` +
        'machine state may carry: split its inputs over several jobs',
    );
  }
  if (packaged) await packaged.upload();
  await writeJobRecord(store, {
    jobId: request.jobId,
    inputs: [...request.inputs],
    job: spec,
    startedAt: now.toISOString(),
    ...(request.rerunOf !== undefined && { rerunOf: request.rerunOf }),
  });
  return plan;
}

/**
 * The objects a request names: a key is one input, named relative to the inbox; a folder (a prefix
 * ending in '/') is every input object below it in key order, each named relative to the folder.
 */
export async function* listInputs(
  requested: readonly string[],
  store: ObjectStore,
): AsyncGenerator<Omit<PlannedInput, 'index'>> {
  for (const key of requested) {
    if (!key.endsWith('/')) {
      const info = await store.head(key);
      if (!info) throw new InputNotFoundError(`input ${key} does not exist`);
      yield { key, name: inputName(key), size: info.size };
      continue;
    }
    for await (const object of store.list(key)) {
      const name = object.key.slice(key.length);
      if (isInputObject(name, object.size)) yield { key: object.key, name, size: object.size };
    }
  }
}

/** The job's spec sources, later wins, compiled; a model must be where this deployment can read it. */
async function compileSources(
  request: PlanRequest,
  store: ObjectStore,
  config: PlanConfig,
): Promise<CompiledJob> {
  const [first] = request.inputs;
  const sidecar =
    request.inputs.length === 1 && first
      ? await readJobSource(store, sidecarKey(first.replace(/\/$/, '')))
      : undefined;
  const job = resolveJob(
    config.defaultJob,
    await readJobSource(store, DEFAULT_JOB_KEY),
    sidecar,
    request.job === undefined ? undefined : asJobSource(request.job, 'job'),
  );
  const { model } = job.spec;
  if (!model.startsWith('tfhub:') && !model.startsWith('s3://') && !config.localModels) {
    throw new JobSpecError('model', 'must be an s3:// URL of a model.tar.gz or a tfhub: handle');
  }
  return job;
}
