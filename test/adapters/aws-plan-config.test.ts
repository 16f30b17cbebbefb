import { describe, expect, it } from 'vitest';
import { planConfig } from '../../src/adapters/aws-plan-config.ts';

const environment = {
  BUCKET: 'data',
  NAME_PREFIX: 'tfbp-dev',
  AWS_REGION: 'eu-west-1',
  TENSORFLOW_VERSION: '2.16',
};

describe('planConfig', () => {
  it('points SageMaker at the bucket and the region images, with the stage defaults under DEFAULT_JOB', () => {
    const config = planConfig({
      ...environment,
      ENDPOINT_MAX_RECORDS: '1000',
      DEFAULT_JOB: '{"instanceType":"ml.g5.xlarge","endpointMaxRecords":50}',
    });
    expect(config.objectUrl('work/j/shards/')).toBe('s3://data/work/j/shards/');
    expect(config.servingImage('ml.p3.2xlarge')).toBe(
      '763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.16-gpu',
    );
    expect(config.namePrefix).toBe('tfbp-dev');
    expect(config.localModels).toBe(false);
    expect(config.defaultJob).toEqual({ endpointMaxRecords: 50, instanceType: 'ml.g5.xlarge' });
    expect(planConfig({ ...environment, ENDPOINT_MAX_RECORDS: '1000' }).defaultJob).toEqual({
      endpointMaxRecords: 1000,
    });
  });

  it('names DEFAULT_JOB when it is not a JSON object, and a missing variable by its name', () => {
    expect(() => planConfig({ ...environment, DEFAULT_JOB: '{"instanceType":' })).toThrow(
      expect.objectContaining({ name: 'JobSpecError', field: 'DEFAULT_JOB' }),
    );
    expect(() => planConfig({ ...environment, DEFAULT_JOB: '[1]' })).toThrow(
      'DEFAULT_JOB: a job spec must be a JSON object',
    );
    expect(() => planConfig({ BUCKET: 'data' })).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: 'environment variable NAME_PREFIX is not set',
      }),
    );
  });

  it('takes the bytes of a Parquet part from PARQUET_PART_BYTES, and refuses what is not a positive whole number', () => {
    expect(planConfig({ ...environment, PARQUET_PART_BYTES: '1048576' }).parquetPartBytes).toBe(1048576);
    expect(planConfig({ ...environment, PARQUET_PART_BYTES: '' }).parquetPartBytes).toBeUndefined();
    expect(() => planConfig({ ...environment, PARQUET_PART_BYTES: '1.5e3x' })).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message:
          'environment variable PARQUET_PART_BYTES must be a positive whole number of bytes, not 1.5e3x',
      }),
    );
  });
});
