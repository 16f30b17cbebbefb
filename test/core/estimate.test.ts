import { describe, expect, it } from 'vitest';
import { countWholeObject, estimateJob, measuredAssumptions } from '../../src/core/estimate.ts';
import { PUBLISHED_RATES } from '../../src/core/image-jobs.ts';
import { resolveJob } from '../../src/core/spec/compile.ts';

const MB = 1024 * 1024;

describe('countWholeObject', () => {
  it('counts an object as one record, quarantined when over the payload limit', () => {
    const job = resolveJob({ model: 'm', contentType: 'image/jpeg', splitType: 'None', maxPayloadInMB: 1 });
    expect(countWholeObject(job, 'a/cat.jpg', 200_000)).toEqual({
      input: 'a/cat.jpg',
      records: { in: 1, skipped: 0, errors: 0, sent: 1 },
      shards: 0,
      bytes: 200_000,
      requests: { transform: 1, endpoint: 1 },
    });
    expect(countWholeObject(job, 'huge.jpg', 2 * MB)).toMatchObject({
      records: { in: 1, errors: 1, sent: 0 },
      requests: { transform: 0, endpoint: 0 },
    });
  });
});

describe('estimateJob with a measured rate', () => {
  it('spreads the records over the instances, start-up being part of the measured time', () => {
    const job = resolveJob({ model: 'm', contentType: 'image/jpeg', splitType: 'None', instanceCount: 2 });
    const counts = Array.from({ length: 1000 }, (_, k) => countWholeObject(job, `${k}.jpg`, 1000));
    const estimate = estimateJob(job.spec, counts, measuredAssumptions(PUBLISHED_RATES.images));
    // 100,000 images took 12 minutes on two instances: 1,000 take a hundredth of that.
    expect(estimate.transform?.minutes).toBeCloseTo(0.12, 9);
    expect(estimate.transform?.instanceMinutes).toBeCloseTo(0.24, 9);
    expect(estimate.assumptions.measured).toBe(PUBLISHED_RATES.images);
  });
});
