import { JobSpecError, PipelineError } from '../errors.ts';
import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import { type JobSpec, resolveJobSpec } from '../spec/job.ts';
import { inputName, outputsPrefix, resultsPrefix, shardsPrefix, workPrefix } from './layout.ts';
import { shardOptionsFor } from './records.ts';

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
export interface PlanConfig {
  /** The URL SageMaker reads or writes an object at (s3://bucket/key in the cloud). */
  readonly objectUrl: (key: string) => string;
  /** The TensorFlow Serving inference image for the instance type. */
  readonly servingImage: (instanceType: string) => string;
  /** The TensorFlow training image that packages TF-Hub models. */
  readonly trainingImage: string;
  /** Whether a model may be a local folder (local mode only). */
  readonly localModels: boolean;
  /** Starts every SageMaker name, so that IAM can scope the service to what it creates. */
  readonly namePrefix?: string;
  /** The deployment's defaults for every job spec, under the bucket's config/default-job.json. */
  readonly defaultJob?: unknown;
}

/** Everything the later states need; small, since it travels in the state machine's data. */
export interface Plan {
  readonly jobId: string;
  readonly spec: JobSpec;
  readonly inputs: PlannedInput[];
  /** SageMaker names: at most 63 characters of [A-Za-z0-9-], unique per job. */
  readonly names: { readonly model: string; readonly transform: string; readonly training: string };
  readonly packageModel: boolean;
  readonly model: {
    readonly image: string;
    readonly dataUrl: string;
    readonly environment: Record<string, string>;
  };
  readonly packaging: {
    readonly image: string;
    readonly outputPath: string;
    readonly hyperParameters: Record<string, string>;
  };
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

/** `results/<jobId>/_job.json`: the inputs and the resolved spec of a job, written when it is planned. */
export interface JobRecord {
  readonly jobId: string;
  readonly inputs: string[];
  readonly job: JobSpec;
  readonly startedAt: string;
  readonly rerunOf?: string;
}

export function jobRecordKey(jobId: string): string {
  return `${resultsPrefix(jobId)}_job.json`;
}

export class NoInputError extends PipelineError {
  override readonly name = 'NoInputError';
}

/** The most inputs one job takes, and the most its plan may weigh: it travels in the state's data (256 KB). */
export const MAX_INPUTS = 1000;
export const MAX_PLAN_BYTES = 200 * 1024;

/**
 * Validates the job spec (the deployment's defaults, the bucket's config/default-job.json, a sidecar `<input>.job.json`
 * when the job has one input, then the request's), checks the inputs exist, and names what the job
 * will create. Only once all is valid does it write the job's record; a bad request costs nothing.
 */
export async function planJob(
  request: PlanRequest,
  store: ObjectStore,
  config: PlanConfig,
  now = new Date(),
): Promise<Plan> {
  if (request.inputs.length === 0) throw new NoInputError(`job ${request.jobId} has no inputs`);
  if (request.inputs.length > MAX_INPUTS) {
    throw new NoInputError(
      `job ${request.jobId} has ${request.inputs.length} inputs; one job takes at most ${MAX_INPUTS}`,
    );
  }
  const bucketDefaults = await optionalJson(store, 'config/default-job.json');
  const [first] = request.inputs;
  const sidecar =
    request.inputs.length === 1 && first ? await optionalJson(store, `${first}.job.json`) : undefined;
  const spec = resolveJobSpec(config.defaultJob, bucketDefaults, sidecar, request.job);
  const inputs: PlannedInput[] = [];
  for (const [index, key] of request.inputs.entries()) {
    const info = await store.head(key);
    if (!info) throw new NoInputError(`input ${key} does not exist`);
    inputs.push({ index, key, name: inputName(key), size: info.size });
  }
  const base = sageMakerName(config.namePrefix ? `${config.namePrefix}-${request.jobId}` : request.jobId);
  const packageModel = spec.model.startsWith('tfhub:');
  const packagedAt = `${workPrefix(request.jobId)}model/`;
  const isS3 = spec.model.startsWith('s3://');
  if (!packageModel && !isS3 && !config.localModels) {
    throw new JobSpecError('model', 'must be an s3:// URL of a model.tar.gz or a tfhub: handle');
  }
  const options = shardOptionsFor(spec, '');
  const instances = options.decoding !== 'none';
  const plan: Plan = {
    jobId: request.jobId,
    spec,
    inputs,
    names: { model: base, transform: base, training: base },
    packageModel,
    model: {
      image: config.servingImage(spec.instanceType),
      dataUrl: packageModel ? `${config.objectUrl(packagedAt)}${base}/output/model.tar.gz` : spec.model,
      environment: {
        ...(spec.modelName !== undefined && { SAGEMAKER_TFS_DEFAULT_MODEL_NAME: spec.modelName }),
        ...spec.environment,
      },
    },
    packaging: {
      image: config.trainingImage,
      outputPath: config.objectUrl(packagedAt),
      hyperParameters: packageModel ? { handle: JSON.stringify(spec.model.slice('tfhub:'.length)) } : {},
    },
    transform: {
      inputUri: config.objectUrl(shardsPrefix(request.jobId)),
      outputUri: config.objectUrl(outputsPrefix(request.jobId)),
      contentType: instances ? 'application/jsonlines' : spec.contentType,
      splitType: instances ? 'Line' : spec.splitType,
      environment: {},
    },
    startedAt: now.toISOString(),
    ...(request.rerunOf !== undefined && { rerunOf: request.rerunOf }),
  };
  const size = Buffer.byteLength(JSON.stringify(plan));
  if (size > MAX_PLAN_BYTES) {
    throw new NoInputError(
      `job ${request.jobId}'s plan is ${Math.ceil(size / 1024)} KB, over the ${MAX_PLAN_BYTES / 1024} KB a state ` +
        'machine state may carry: split its inputs over several jobs',
    );
  }
  // The job's record, kept with its results: what a rerun repeats.
  const record: JobRecord = {
    jobId: request.jobId,
    inputs: [...request.inputs],
    job: spec,
    startedAt: now.toISOString(),
    ...(request.rerunOf !== undefined && { rerunOf: request.rerunOf }),
  };
  await writeText(store, jobRecordKey(request.jobId), `${JSON.stringify(record, null, 2)}\n`);
  return plan;
}

/** A name SageMaker accepts: [A-Za-z0-9] with single dashes, at most 63 characters. */
export function sageMakerName(jobId: string): string {
  const cleaned = jobId
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (cleaned.length > 0 && cleaned.length <= 63) return cleaned;
  let hash = 0;
  for (const c of jobId) hash = (Math.imul(hash, 31) + (c.codePointAt(0) ?? 0)) >>> 0;
  return `${cleaned.slice(0, 54).replace(/-$/, '') || 'job'}-${hash.toString(16).padStart(8, '0')}`;
}

async function optionalJson(store: ObjectStore, key: string): Promise<unknown> {
  if (!(await store.head(key))) return undefined;
  const text = await readText(store, key);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new JobSpecError(key, `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
