import { join } from 'node:path';
import { tensorflowImage } from '../core/images.ts';
import { mergeJobSources, parseJobSource } from '../core/spec/sources.ts';
import type { PlanConfig } from '../core/steps/plan.ts';
import { optionalBytes, requiredVariable } from './environment.ts';
import { packagingSource } from './packaging-source.ts';

/**
 * Where the plan points SageMaker, from the function's environment: the bucket (BUCKET), the
 * TensorFlow version of the images SageMaker runs (TENSORFLOW_VERSION; SERVING_IMAGE and TRAINING_IMAGE
 * replace them), the prefix of every SageMaker name (NAME_PREFIX), which the IAM policies are scoped
 * to, the deployment's job spec defaults (ENDPOINT_MAX_RECORDS under DEFAULT_JOB), and the bytes of a
 * Parquet file one Shard invocation reads before it is split by row groups (PARQUET_PART_BYTES). The packaging
 * script is read from training/ in the function's package.
 */
export function planConfig(environment: NodeJS.ProcessEnv = process.env): PlanConfig {
  const bucket = requiredVariable(environment, 'BUCKET');
  const region = environment.AWS_REGION ?? 'us-east-1';
  const version = environment.TENSORFLOW_VERSION || undefined;
  const endpointMaxRecords = environment.ENDPOINT_MAX_RECORDS;
  const partBytes = optionalBytes(environment, 'PARQUET_PART_BYTES');
  return {
    objectUrl: (key) => `s3://${bucket}/${key}`,
    servingImage: (instanceType) =>
      environment.SERVING_IMAGE || tensorflowImage({ region, kind: 'inference', instanceType, version }),
    trainingImage:
      environment.TRAINING_IMAGE ||
      tensorflowImage({ region, kind: 'training', instanceType: 'ml.m5.large', version }),
    packagingSource: packagingSource(join(environment.LAMBDA_TASK_ROOT ?? process.cwd(), 'training')),
    localModels: false,
    namePrefix: requiredVariable(environment, 'NAME_PREFIX'),
    ...(partBytes !== undefined && { parquetPartBytes: partBytes }),
    defaultJob: mergeJobSources(
      endpointMaxRecords ? { endpointMaxRecords: Number(endpointMaxRecords) } : undefined,
      environment.DEFAULT_JOB ? parseJobSource(environment.DEFAULT_JOB, 'DEFAULT_JOB') : undefined,
    ),
  };
}
