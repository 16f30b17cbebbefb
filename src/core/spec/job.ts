import * as z from 'zod/mini';
import { SPLIT_TYPES } from './split-types.ts';

/**
 * The job spec: what to score with which model, and how. Field names follow SageMaker's so users
 * recognise them. It is checked and turned into what the steps use by `compileJob` (compile.ts); its
 * sources are read by sources.ts.
 */
const name = z.string().check(z.regex(/^[A-Za-z0-9_./-]+$/, 'letters, digits and _ . / - only'));
const s3File = z.string().check(z.regex(/^s3:\/\/[^/]+\/.*[^/]$/, 'an s3:// URL of a file'));
const integer = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

export const jobSpecSchema = z.strictObject({
  model: z.string().check(
    z.minLength(1),
    z.refine((value) => /^(s3:\/\/[^/]+\/.+|tfhub:.+|\.{0,2}\/.+|[A-Za-z0-9_].*)$/.test(value), {
      message: 'an s3:// URL of a model.tar.gz, a tfhub: handle, or a local folder',
    }),
  ),
  contentType: z.string().check(z.regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type such as application/jsonlines')),
  splitType: z.enum(SPLIT_TYPES),
  /**
   * SageMaker's CompressionType: Gzip decompresses every input as it is read (an input named `*.gz`
   * is, whatever this says). Results stay plain JSON Lines, named `<input>.out`.
   */
  compressionType: z.enum(['None', 'Gzip']),
  csvHeader: z.boolean(),
  batchStrategy: z.enum(['MultiRecord', 'SingleRecord']),
  maxPayloadInMB: integer(0, 100),
  maxConcurrentTransforms: integer(0, 100),
  instanceType: z
    .string()
    .check(z.regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'an instance type such as ml.p3.2xlarge')),
  instanceCount: integer(1, 100),
  tfsMethod: z.enum(['predict', 'classify', 'regress']),
  modelName: z.optional(name),
  dataProcessing: z.strictObject({
    inputFilter: z.optional(z.string().check(z.maxLength(63))),
    joinSource: z.enum(['None', 'Input']),
    outputFilter: z.optional(z.string().check(z.maxLength(63))),
  }),
  maxErrorPercent: z.number().check(z.minimum(0), z.maximum(100)),
  modelClientConfig: z.strictObject({
    invocationsTimeoutInSeconds: integer(1, 3600),
    invocationsMaxRetries: integer(0, 3),
  }),
  environment: z.record(
    z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)),
    z.string().check(z.maxLength(1024)),
  ),
  /** Target size of one shard, in MB; the plan may make shards smaller to keep instances busy. */
  shardSizeInMB: z.number().check(z.minimum(1), z.maximum(1024)),
  /**
   * A job with fewer records than this is scored on a serverless endpoint rather than by a transform
   * job; 0 never. One function invocation scores them, within Lambda's 15 minutes.
   */
  endpointMaxRecords: integer(0, 100_000),
  serverlessConfig: z.strictObject({
    memorySizeInMB: integer(1024, 6144).check(z.multipleOf(1024)),
    maxConcurrency: integer(1, 200),
  }),
  /** Files packaged with a tfhub: model as code/inference.py and code/requirements.txt. */
  code: z.optional(
    z.strictObject({
      inference: z.optional(s3File),
      requirements: z.optional(s3File),
    }),
  ),
});

export type JobSpec = z.infer<typeof jobSpecSchema>;

export const DEFAULT_JOB: Omit<JobSpec, 'model'> = {
  contentType: 'application/jsonlines',
  splitType: 'Line',
  compressionType: 'None',
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
