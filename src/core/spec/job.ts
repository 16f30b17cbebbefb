import * as z from 'zod';

/**
 * The job spec: what to score with which model, and how. Field names follow SageMaker's so users
 * recognise them. It is checked and turned into what the steps use by `compileJob` (compile.ts); its
 * sources are read by sources.ts.
 */
const name = z.string().regex(/^[A-Za-z0-9_./-]+$/, 'letters, digits and _ . / - only');
const s3File = z.string().regex(/^s3:\/\/[^/]+\/.*[^/]$/, 'an s3:// URL of a file');

/** How an input is cut into records, as SageMaker's TransformInput.SplitType names it. */
export const SPLIT_TYPES = ['Line', 'RecordIO', 'TFRecord', 'None'] as const;
export type SplitType = (typeof SPLIT_TYPES)[number];

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
