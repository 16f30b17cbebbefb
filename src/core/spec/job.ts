import { z } from 'zod';
import { JobSpecError } from '../errors.ts';
import { decodingFor, SPLIT_TYPES } from './records.ts';

/**
 * The job spec: what to score with which model, and how. Field names follow SageMaker's so users
 * recognise them. Sources are merged in order, later wins: deployment defaults, the bucket's
 * `config/default-job.json`, a sidecar `<input>.job.json`, the webhook body, the CLI's `--job`.
 */
const name = z.string().regex(/^[A-Za-z0-9_./-]+$/, 'letters, digits and _ . / - only');
const s3File = z.string().regex(/^s3:\/\/[^/]+\/.*[^/]$/, 'an s3:// URL of a file');

/** The largest request a serverless endpoint takes. */
export const SERVERLESS_PAYLOAD_MB = 4;
/** The largest record a job reads, whatever its maxPayloadInMB: the largest MaxPayloadInMB there is. */
export const MAX_RECORD_MB = 100;

export const jobSpecSchema = z.strictObject({
  model: z
    .string()
    .min(1)
    .refine((value) => /^(s3:\/\/[^/]+\/.+|tfhub:.+|\.{0,2}\/.+|[A-Za-z0-9_].*)$/.test(value), {
      message: 'an s3:// URL of a model.tar.gz, a tfhub: handle, or a local folder',
    }),
  contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type such as application/jsonlines'),
  splitType: z.enum(SPLIT_TYPES),
  csvHeader: z.boolean(),
  batchStrategy: z.enum(['MultiRecord', 'SingleRecord']),
  maxPayloadInMB: z.number().int().min(0).max(100),
  maxConcurrentTransforms: z.number().int().min(0).max(100),
  instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'an instance type such as ml.p3.2xlarge'),
  instanceCount: z.number().int().min(1).max(100),
  tfsMethod: z.enum(['predict', 'classify', 'regress']),
  modelName: name.optional(),
  dataProcessing: z.strictObject({
    inputFilter: z.string().max(63).optional(),
    joinSource: z.enum(['None', 'Input']),
    outputFilter: z.string().max(63).optional(),
  }),
  maxErrorPercent: z.number().min(0).max(100),
  modelClientConfig: z.strictObject({
    invocationsTimeoutInSeconds: z.number().int().min(1).max(3600),
    invocationsMaxRetries: z.number().int().min(0).max(3),
  }),
  environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(1024)),
  /** Target size of one shard, in MB; the plan may make shards smaller to keep instances busy. */
  shardSizeInMB: z.number().min(1).max(1024),
  /**
   * A job with fewer records than this is scored on a serverless endpoint rather than by a transform
   * job; 0 never. One function invocation scores them, within Lambda's 15 minutes.
   */
  endpointMaxRecords: z.number().int().min(0).max(100_000),
  serverlessConfig: z.strictObject({
    memorySizeInMB: z.number().int().multipleOf(1024).min(1024).max(6144),
    maxConcurrency: z.number().int().min(1).max(200),
  }),
  /** Files packaged with a tfhub: model as code/inference.py and code/requirements.txt. */
  code: z
    .strictObject({
      inference: s3File.optional(),
      requirements: s3File.optional(),
    })
    .optional(),
});

export type JobSpec = z.infer<typeof jobSpecSchema>;

export const DEFAULT_JOB: Omit<JobSpec, 'model'> = {
  contentType: 'application/jsonlines',
  splitType: 'Line',
  csvHeader: false,
  batchStrategy: 'MultiRecord',
  maxPayloadInMB: 6,
  maxConcurrentTransforms: 4,
  instanceType: 'ml.p3.2xlarge',
  instanceCount: 1,
  tfsMethod: 'predict',
  dataProcessing: { joinSource: 'None' },
  maxErrorPercent: 5,
  modelClientConfig: { invocationsTimeoutInSeconds: 600, invocationsMaxRetries: 3 },
  environment: {},
  shardSizeInMB: 64,
  endpointMaxRecords: 0,
  serverlessConfig: { memorySizeInMB: 2048, maxConcurrency: 5 },
};

/**
 * Merges the spec sources (later wins, nested objects member by member) over the defaults and checks
 * the result. An invalid spec is rejected before anything is created: JobSpecError names the field and
 * the rule it breaks.
 */
export function resolveJobSpec(...sources: readonly unknown[]): JobSpec {
  const merged: Record<string, unknown> = structuredClone(DEFAULT_JOB);
  sources.forEach((source, k) => {
    if (source === undefined) return;
    if (typeof source !== 'object' || source === null || Array.isArray(source)) {
      throw new JobSpecError(`(source ${k + 1})`, 'a job spec must be a JSON object');
    }
    for (const [key, value] of Object.entries(source)) {
      const current = merged[key];
      merged[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
    }
  });
  const parsed = jobSpecSchema.safeParse(merged);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const field = issue?.path.join('.') || '(spec)';
    const reason =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new JobSpecError(field, reason);
  }
  checkCombinations(parsed.data);
  return parsed.data;
}

/** Rules across fields, as SageMaker states them. */
function checkCombinations(spec: JobSpec): void {
  if (spec.maxPayloadInMB * spec.maxConcurrentTransforms > 100) {
    throw new JobSpecError(
      'maxPayloadInMB',
      `maxPayloadInMB × maxConcurrentTransforms must be at most 100 (here ${spec.maxPayloadInMB} × ${spec.maxConcurrentTransforms})`,
    );
  }
  if (spec.maxPayloadInMB === 0 && spec.batchStrategy === 'MultiRecord') {
    throw new JobSpecError('maxPayloadInMB', '0 (no limit) only goes with batchStrategy SingleRecord');
  }
  decodingFor({
    contentType: spec.contentType,
    splitType: spec.splitType,
    ...(spec.dataProcessing.inputFilter !== undefined && { inputFilter: spec.dataProcessing.inputFilter }),
  });
  if (spec.dataProcessing.joinSource === 'Input' && spec.splitType === 'None') {
    throw new JobSpecError('dataProcessing.joinSource', 'joining records needs a splitType other than None');
  }
  if (spec.code !== undefined && !spec.model.startsWith('tfhub:')) {
    throw new JobSpecError('code', 'only goes with a tfhub: model, which is packaged with it');
  }
}

/**
 * The most bytes one record may have: what one request takes, and at most what a serverless endpoint
 * takes when the job may be scored on one, so that a record is quarantined the same way however the
 * job is scored.
 */
export function maxRecordBytes(spec: JobSpec): number {
  // maxPayloadInMB 0 lets SageMaker stream a record of any size, but Shard holds a record whole: one
  // larger than the largest payload SageMaker otherwise takes is quarantined, not read into memory.
  const limit = spec.maxPayloadInMB === 0 ? MAX_RECORD_MB : spec.maxPayloadInMB;
  const capped = spec.endpointMaxRecords > 0 ? Math.min(limit, SERVERLESS_PAYLOAD_MB) : limit;
  return capped * 1024 * 1024;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
