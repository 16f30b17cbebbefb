import { InputNotFoundError, JobSpecError, NoInputError, PlanTooLargeError } from '../errors.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type CompiledJob, checkInput, resolveJob } from '../spec/compile.ts';
import type { JobSpec } from '../spec/job.ts';
import { asJobSource, DEFAULT_JOB_KEY, type JobSource, readJobSource, sidecarKey } from '../spec/sources.ts';
import { type InputGroup, InputGrouper, type PlannedInput } from './inputs.ts';
import { writeJobRecord } from './job-record.ts';
import { inputName, isInputObject, manifestKey, outputsPrefix, shardsPrefix, workPrefix } from './layout.ts';
import { commonFolder, ManifestWriter, objectTooLarge } from './manifest.ts';
import { sageMakerName } from './names.ts';
import { type Packaging, type PackagingConfig, planPackaging } from './packaging.ts';
import { PARQUET_PART_BYTES, parquetParts } from './parts.ts';

export interface PlanRequest {
  /** The execution's name: unique, and the base of every name the job creates. */
  readonly jobId: string;
  readonly inputs: readonly string[];
  /** The job spec from the webhook body or the command line. */
  readonly job?: unknown;
  /** The job this one reruns, named in its summary. */
  readonly rerunOf?: string;
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
  /** The most bytes of a Parquet file one Shard invocation reads (PARQUET_PART_BYTES by default). */
  readonly parquetPartBytes?: number;
}

/** Everything the later states need; small, since it travels in the state machine's data. */
export interface Plan {
  readonly jobId: string;
  readonly spec: JobSpec;
  /** Every input object of the job: the listing itself is in work/<jobId>/inputs/, by group. */
  readonly inputs: { readonly count: number; readonly bytes: number };
  /** What Shard and Merge each take, once per group (a part of a large Parquet file is a group alone). */
  readonly groups: InputGroup[];
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
    /** `ManifestFile` for whole-object jobs (inputUri: the manifest), `S3Prefix` otherwise (the shards). */
    readonly dataType: 'S3Prefix' | 'ManifestFile';
    readonly inputUri: string;
    readonly outputUri: string;
    readonly contentType: string;
    readonly splitType: string;
    /** `Gzip` when a whole-object job's objects are decompressed before they are sent. */
    readonly compressionType: 'None' | 'Gzip';
    readonly environment: Record<string, string>;
    /** Whole-object jobs: the manifest's prefix (a store key) and how many objects it lists. */
    readonly objects?: { readonly prefix: string; readonly sent: number };
  };
  readonly startedAt: string;
  readonly rerunOf?: string;
}

/** The most a plan may weigh: it travels in the state's data (256 KB); a safety net, groups keep it far below. */
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
  const listed = await listJobInputs(request, store, config, job);
  const base = sageMakerName(config.namePrefix ? `${config.namePrefix}-${request.jobId}` : request.jobId);
  const packaged = spec.model.startsWith('tfhub:')
    ? await planPackaging(store, config, spec, request.jobId, base)
    : undefined;
  const modelName = packaged?.modelName ?? spec.modelName;
  const plan: Plan = {
    jobId: request.jobId,
    spec,
    inputs: listed.inputs,
    groups: listed.groups,
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
    transform: listed.objects
      ? {
          dataType: 'ManifestFile',
          inputUri: config.objectUrl(manifestKey(request.jobId)),
          outputUri: config.objectUrl(outputsPrefix(request.jobId)),
          contentType: spec.contentType,
          splitType: 'None',
          compressionType: spec.compressionType,
          environment: {},
          objects: listed.objects,
        }
      : {
          dataType: 'S3Prefix',
          inputUri: config.objectUrl(shardsPrefix(request.jobId)),
          outputUri: config.objectUrl(outputsPrefix(request.jobId)),
          contentType: job.shards.contentType,
          splitType: job.shards.splitType,
          // Shards hold decompressed records.
          compressionType: 'None',
          environment: {},
        },
    startedAt: now.toISOString(),
    ...(request.rerunOf !== undefined && { rerunOf: request.rerunOf }),
  };
  const size = Buffer.byteLength(JSON.stringify(plan));
  if (size > MAX_PLAN_BYTES) {
    await store.deletePrefix(workPrefix(request.jobId));
    throw new PlanTooLargeError(
      `job ${request.jobId}'s plan is ${Math.ceil(size / 1024)} KB, over the ${MAX_PLAN_BYTES / 1024} KB a state ` +
        'machine state may carry: make its job spec smaller or split its inputs over several jobs',
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

interface ListedInputs {
  readonly inputs: Plan['inputs'];
  readonly groups: InputGroup[];
  readonly objects?: { readonly prefix: string; readonly sent: number };
}

/**
 * Lists the request's inputs once, as a stream, into the group listings under work/<jobId>/inputs/
 * and, for a whole-object job, the manifest. A plan that fails leaves nothing under work/<jobId>/.
 */
async function listJobInputs(
  request: PlanRequest,
  store: ObjectStore,
  config: PlanConfig,
  job: CompiledJob,
): Promise<ListedInputs> {
  const { spec } = job;
  const grouper = new InputGrouper(store, request.jobId);
  const prefix = commonFolder(request.inputs);
  const manifest =
    spec.splitType === 'None'
      ? await ManifestWriter.open(store, request.jobId, prefix, config.objectUrl(prefix))
      : undefined;
  try {
    for await (const input of listInputs(request.inputs, store)) {
      checkInput(spec, input.key, input.name);
      const parts = await parquetParts(store, job, input, config.parquetPartBytes ?? PARQUET_PART_BYTES);
      if (parts) await grouper.addParts(input, parts);
      else await grouper.add(input);
      // An object too large for one request is quarantined by Merge, which finds it missing here.
      if (manifest && objectTooLarge(job, input.size) === undefined) await manifest.add(input.key);
    }
    if (grouper.inputs.count === 0) {
      throw new NoInputError(
        `job ${request.jobId} has no inputs: ${request.inputs.join(', ')} hold no input object`,
      );
    }
    const groups = await grouper.finish();
    await manifest?.close();
    return {
      inputs: grouper.inputs,
      groups,
      ...(manifest && { objects: { prefix, sent: manifest.objects } }),
    };
  } catch (error) {
    await Promise.allSettled([grouper.abort(), manifest?.abort()]);
    await store.deletePrefix(workPrefix(request.jobId));
    throw error;
  }
}

/**
 * The objects a request names: a key is one input, named relative to the inbox; a folder (a prefix
 * ending in '/') is every input object below it in key order, each named relative to the folder.
 */
export async function* listInputs(
  requested: readonly string[],
  store: ObjectStore,
): AsyncGenerator<Omit<PlannedInput, 'index'>> {
  for (const [request, key] of requested.entries()) {
    if (!key.endsWith('/')) {
      const info = await store.head(key);
      if (!info) throw new InputNotFoundError(`input ${key} does not exist`);
      yield { key, name: inputName(key), size: info.size, request };
      continue;
    }
    for await (const object of store.list(key)) {
      const name = object.key.slice(key.length);
      if (isInputObject(name, object.size)) yield { key: object.key, name, size: object.size, request };
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
