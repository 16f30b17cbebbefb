import { describe, expect, it } from 'vitest';
import {
  CALIBRATION_LIMITS,
  type Calibration,
  calibratedRate,
  RequestSample,
  speedFactor,
} from '../../src/core/calibration.ts';
import { calibratedAssumptions, estimateJob } from '../../src/core/estimate.ts';
import { resolveJob } from '../../src/core/spec/compile.ts';

const calibration: Calibration = {
  model: './models/iris',
  records: 3000,
  seconds: 1.5,
  recordsPerSecond: 2000,
  requests: 20,
  failedRequests: 0,
  concurrency: 4,
  cores: 2,
  limits: CALIBRATION_LIMITS,
};

describe('speedFactor', () => {
  it('scales to a GPU instance by an assumed factor, and says it is assumed', () => {
    const speed = speedFactor('ml.p3.2xlarge', 2);
    expect(speed).toMatchObject({ factor: 8, target: 'ml.p3.2xlarge' });
    expect(speed.basis).toBe(
      'assumed speed-up of its V100 GPU over the 2 cores used here; rerun on the real instance to know',
    );
    expect(speedFactor('ml.g4dn.xlarge', 4).factor).toBe(4);
  });

  it('scales to a CPU instance by its vCPUs over the cores used here', () => {
    expect(speedFactor('ml.m5.xlarge', 2).factor).toBe(2);
    expect(speedFactor('ml.c5.4xlarge', 4).factor).toBe(4);
    expect(speedFactor('ml.m5.large', 4)).toMatchObject({
      factor: 0.5,
      basis:
        'its 2 vCPUs over the 4 cores used here, assumed as fast each; rerun on the real instance to know',
    });
  });

  it('takes the rate as measured for an unknown instance type and for a serverless endpoint', () => {
    expect(speedFactor('ml.z9.large', 2)).toMatchObject({ factor: 1, target: 'ml.z9.large' });
    expect(speedFactor('ml.z9.large', 2).basis).toContain('no speed-up is known for ml.z9.large');
    expect(speedFactor('ml.p3.2xlarge', 2, true)).toMatchObject({
      factor: 1,
      target: 'a serverless endpoint',
    });
  });
});

describe('RequestSample', () => {
  it('keeps the first requests until they hold the record limit, and always one', () => {
    const sample = new RequestSample({ seconds: 1, records: 10, sampleBytes: 1000 });
    const batch = (first: number, last: number) => ({ first, last, body: Buffer.alloc(10) });
    sample.offer([batch(1, 6), batch(7, 12), batch(13, 20)]);
    expect(sample.requests.map(({ first }) => first)).toEqual([1, 7]);
    expect(sample.records).toBe(12);
    expect(sample.wants).toBe(false);
    const large = new RequestSample({ seconds: 1, records: 10, sampleBytes: 5 });
    large.offer([batch(1, 1), batch(2, 2)]);
    expect(large.requests).toHaveLength(1);
  });
});

describe('calibratedAssumptions', () => {
  it('estimates the records over the scaled rate, after the assumed start-up', () => {
    const { spec } = resolveJob({ model: './m', instanceCount: 2 });
    const assumptions = calibratedAssumptions(calibratedRate(calibration, speedFactor(spec.instanceType, 2)));
    const records = { in: 1_600_000, skipped: 0, errors: 0, sent: 1_600_000 };
    const input = { input: 'a', records, shards: 1, bytes: 1, requests: { transform: 1, endpoint: 1 } };
    const estimate = estimateJob(spec, [input], assumptions);
    expect(estimate.assumptions.recordsPerSecond).toBe(16_000);
    // 1.6 M records at 16,000 a second: 100 s, over two instances, after 5 minutes starting up.
    expect(estimate.transform?.instanceMinutes).toBeCloseTo(2 * 5 + 100 / 60, 9);
    expect(estimate.transform?.minutes).toBeCloseTo(5 + 50 / 60, 9);
  });
});
