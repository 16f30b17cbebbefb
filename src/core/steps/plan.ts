import { createHash } from 'node:crypto';
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

/** A file of the script-mode source that packages TF-Hub models (training/ in this repository). */
export interface SourceFile {
  readonly name: string;
  readonly content: Buffer;
}

/** Where the plan points SageMaker: deployment settings, not part of the job spec. */
export interface PlanConfig {
  /** The URL SageMaker reads or writes an object at: s3://<bucket>/<key>. */
  readonly objectUrl: (key: string) => string;
  /** The TensorFlow Serving inference image for the instance type (`serverless`: a serverless endpoint, CPU). */
  readonly servingImage: (instanceType: string) => string;
  /** The TensorFlow training image that packages TF-Hub models. */
  readonly trainingImage: string;
  /** The packaging script and its requirements, uploaded under code/ the first time a job needs them. */
  readonly packagingSource: () => Promise<readonly SourceFile[]>;
  /** Whether a model may be a local folder (local mode only). */
  readonly localModels: boolean;
  /** Starts every SageMaker name, so that IAM can scope the service to what it creates. */
  readonly namePrefix?: string;
  /** The deployment's defaults for every job spec, under the bucket's config/default-job.json. */
  readonly defaultJob?: unknown;
  /** The deployment's endpointMaxRecords, under its defaultJob. */
  readonly endpointMaxRecords?: number;
}

/** An InputDataConfig channel of the packaging training job. */
export interface TrainingChannel {
  readonly ChannelName: string;
  readonly DataSource: {
    readonly S3DataSource: {
      readonly S3DataType: 'S3Prefix';
      readonly S3Uri: string;
      readonly S3DataDistributionType: 'FullyReplicated';
    };
  };
}

/** What the PackageModel and CacheModel states need. */
export interface Packaging {
  readonly image: string;
  /** Script mode's: the program and where its source is, as JSON strings, beside the script's own. */
  readonly hyperParameters: Record<string, string>;
  readonly channels: TrainingChannel[];
  readonly outputPath: string;
  /** The training job's model.tar.gz, copied to where later jobs with the same handle find it. */
  readonly cache: { readonly bucket: string; readonly copySource: string; readonly key: string };
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

/** The script that packages TF-Hub models, and where script mode finds its source: the `code` channel. */
export const PACKAGING_PROGRAM = 'package_hub_model.py';
const SOURCE_CHANNEL_DIR = '/opt/ml/input/data/code';
const HUB_CACHE = 'models/hub-cache/';

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
  const deployment =
    config.endpointMaxRecords === undefined ? undefined : { endpointMaxRecords: config.endpointMaxRecords };
  const spec = resolveJobSpec(deployment, config.defaultJob, bucketDefaults, sidecar, request.job);
  const inputs: PlannedInput[] = [];
  for (const [index, key] of request.inputs.entries()) {
    const info = await store.head(key);
    if (!info) throw new NoInputError(`input ${key} does not exist`);
    inputs.push({ index, key, name: inputName(key), size: info.size });
  }
  const base = sageMakerName(config.namePrefix ? `${config.namePrefix}-${request.jobId}` : request.jobId);
  const hub = spec.model.startsWith('tfhub:');
  if (!hub && !spec.model.startsWith('s3://') && !config.localModels) {
    throw new JobSpecError('model', 'must be an s3:// URL of a model.tar.gz or a tfhub: handle');
  }
  const packaged = hub ? await planPackaging(store, config, spec, request.jobId, base) : undefined;
  const modelName = packaged?.modelName ?? spec.modelName;
  const options = shardOptionsFor(spec, '');
  const instances = options.decoding !== 'none';
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
  if (packaged) await packaged.upload();
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

interface PlannedPackaging {
  readonly modelName: string;
  readonly dataUrl: string;
  /** Absent when the handle was packaged before, with the same script, code and training image. */
  readonly packaging?: Packaging;
  /** Puts the packaging source under code/ when it is not there yet; called once the plan is valid. */
  readonly upload: () => Promise<void>;
}

/**
 * Packaging a TF-Hub handle: a script-mode training job whose source comes in as the `code` channel
 * (the training toolkit copies a directory given as sagemaker_submit_directory), with inference.py and
 * requirements.txt as channels of their own when the spec gives them. Its model.tar.gz is kept under
 * models/hub-cache/<key>/, the key naming the handle, the training image (the framework version), the
 * script and the code files, so a later job with the same key skips packaging.
 */
async function planPackaging(
  store: ObjectStore,
  config: PlanConfig,
  spec: JobSpec,
  jobId: string,
  trainingJob: string,
): Promise<PlannedPackaging> {
  const handle = spec.model.slice('tfhub:'.length);
  const { name, version } = hubModelName(handle, spec.modelName);
  const source = await config.packagingSource();
  const sourcePrefix = `code/package-hub-model/${digest(source.map((file) => [file.name, digest(file.content)]))}/`;
  const channels: TrainingChannel[] = [channel('code', config.objectUrl(sourcePrefix))];
  const codeVersions: Record<string, string> = {};
  for (const [field, url] of Object.entries(spec.code ?? {})) {
    if (url === undefined) continue;
    const key = keyInBucket(config, url);
    if (key === undefined || !key.startsWith('models/')) {
      throw new JobSpecError(`code.${field}`, `must be an object under ${config.objectUrl('models/')}`);
    }
    const info = await store.head(key);
    if (!info) throw new JobSpecError(`code.${field}`, `${url} does not exist`);
    codeVersions[field] = info.etag;
    channels.push(channel(field, url));
  }
  const key = digest([handle, name, version, config.trainingImage, sourcePrefix, codeVersions]).slice(0, 24);
  const cacheKey = `${HUB_CACHE}${key}/model.tar.gz`;
  const dataUrl = config.objectUrl(cacheKey);
  const upload = async (): Promise<void> => {
    for (const file of source) {
      if (await store.head(`${sourcePrefix}${file.name}`)) continue;
      const sink = await store.write(`${sourcePrefix}${file.name}`);
      await sink.write(file.content);
      await sink.close();
    }
  };
  if (await store.head(cacheKey)) return { modelName: name, dataUrl, upload: async () => undefined };
  const outputPrefix = `${workPrefix(jobId)}model/`;
  const bucket = bucketOf(config);
  const packaged = `${outputPrefix}${trainingJob}/output/model.tar.gz`;
  return {
    modelName: name,
    dataUrl,
    upload,
    packaging: {
      image: config.trainingImage,
      hyperParameters: {
        handle: JSON.stringify(handle),
        model_name: JSON.stringify(name),
        model_version: JSON.stringify(version),
        sagemaker_program: JSON.stringify(PACKAGING_PROGRAM),
        sagemaker_submit_directory: JSON.stringify(SOURCE_CHANNEL_DIR),
      },
      channels,
      outputPath: config.objectUrl(outputPrefix),
      cache: {
        bucket,
        copySource: `${bucket}/${packaged.split('/').map(encodeURIComponent).join('/')}`,
        key: cacheKey,
      },
    },
  };
}

/**
 * The TFS name and version a handle is saved under: the spec's modelName or the handle's last word
 * (`google/universal-sentence-encoder/4` is universal-sentence-encoder), and its version number, or 1.
 */
export function hubModelName(handle: string, modelName?: string): { name: string; version: string } {
  const parts = handle
    .replace(/[?#].*$/, '')
    .split('/')
    .filter((part) => part.length > 0);
  const last = parts[parts.length - 1] ?? '';
  const version = /^\d+$/.test(last) ? String(Number(last)) : '1';
  const word = [...parts].reverse().find((part) => !/^\d+$/.test(part)) ?? 'model';
  return { name: modelName ?? word.replace(/[^A-Za-z0-9_.-]+/g, '-'), version };
}

function channel(name: string, url: string): TrainingChannel {
  return {
    ChannelName: name,
    DataSource: {
      S3DataSource: { S3DataType: 'S3Prefix', S3Uri: url, S3DataDistributionType: 'FullyReplicated' },
    },
  };
}

function bucketOf(config: PlanConfig): string {
  return config
    .objectUrl('')
    .replace(/^s3:\/\//, '')
    .replace(/\/$/, '');
}

/** The key of an s3:// URL in the deployment's bucket, or undefined for a URL elsewhere. */
function keyInBucket(config: PlanConfig, url: string): string | undefined {
  const root = config.objectUrl('');
  return url.startsWith(root) ? url.slice(root.length) : undefined;
}

function digest(value: unknown): string {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  return createHash('sha256').update(bytes).digest('hex');
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
