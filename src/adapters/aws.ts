import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { JobSpecError } from '../core/errors.ts';
import { tensorflowImage } from '../core/images.ts';
import type { EndpointInvoker } from '../core/ports/endpoints.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import type { SageMakerJobs } from '../core/ports/sagemaker-jobs.ts';
import type { ShardThreads } from '../core/shard/pool.ts';
import type { PlanConfig } from '../core/steps/plan.ts';
import { packagingSource } from './packaging-source.ts';
import { createS3Client, S3ObjectStore } from './s3-store.ts';
import { AwsSageMakerJobs } from './sagemaker-jobs.ts';
import { SageMakerRuntimeEndpoints } from './sagemaker-runtime.ts';

/**
 * The AWS side of the steps, built once per cold start from the function's environment: the bucket
 * (BUCKET), an optional S3-compatible endpoint (S3_ENDPOINT), the TensorFlow version of the images
 * SageMaker runs (TENSORFLOW_VERSION; SERVING_IMAGE and TRAINING_IMAGE replace them), the prefix of
 * every SageMaker name (NAME_PREFIX), which the IAM policies are scoped to, and the deployment's job spec
 * defaults (DEFAULT_JOB, ENDPOINT_MAX_RECORDS). The packaging script is read from training/ in the
 * function's package.
 */
export interface StepDependencies {
  readonly store: ObjectStore;
  readonly planConfig: PlanConfig;
  readonly jobs: SageMakerJobs;
  readonly endpoints: EndpointInvoker;
  /** Threads that encode records while Shard reads; none in Lambda, where the function's share of a core is small. */
  readonly shardWorkers?: ShardThreads;
}

let built: StepDependencies | undefined;

export function stepDependencies(environment: NodeJS.ProcessEnv = process.env): StepDependencies {
  if (built) return built;
  const bucket = required(environment, 'BUCKET');
  const endpoint = environment.S3_ENDPOINT;
  const region = environment.AWS_REGION ?? 'us-east-1';
  const version = environment.TENSORFLOW_VERSION || undefined;
  const client = endpoint ? createS3Client({ endpoint }) : new S3Client({});
  built = {
    store: new S3ObjectStore({ bucket, client }),
    jobs: new AwsSageMakerJobs(),
    endpoints: new SageMakerRuntimeEndpoints(),
    planConfig: {
      objectUrl: (key) => `s3://${bucket}/${key}`,
      servingImage: (instanceType) =>
        environment.SERVING_IMAGE || tensorflowImage({ region, kind: 'inference', instanceType, version }),
      trainingImage:
        environment.TRAINING_IMAGE ||
        tensorflowImage({ region, kind: 'training', instanceType: 'ml.m5.large', version }),
      packagingSource: packagingSource(join(environment.LAMBDA_TASK_ROOT ?? process.cwd(), 'training')),
      localModels: false,
      namePrefix: required(environment, 'NAME_PREFIX'),
      defaultJob: parseDefaultJob(environment.DEFAULT_JOB),
      ...(environment.ENDPOINT_MAX_RECORDS && {
        endpointMaxRecords: Number(environment.ENDPOINT_MAX_RECORDS),
      }),
    },
  };
  return built;
}

function parseDefaultJob(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new JobSpecError('DEFAULT_JOB', `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function required(environment: NodeJS.ProcessEnv, name: string): string {
  const value = environment[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}
