import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { writeText } from '../../../src/core/ports/object-store.ts';
import { resolveJob } from '../../../src/core/spec/compile.ts';
import { chooseScoringStep, scoresOnEndpoint } from '../../../src/core/steps/route.ts';

let store: LocalObjectStore;
beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-route-')));
});

describe('chooseScoringStep', () => {
  const plan = {
    jobId: 'j',
    groups: [0, 1].map((group) => ({ group, first: 1000 * group, count: 1000, bytes: 1 })),
    model: { image: 'gpu-image', serverlessImage: 'cpu-image' },
    transform: {},
  };
  const job = (endpointMaxRecords: number) => resolveJob({ model: 's3://m/x', endpointMaxRecords });
  const index = (sent: number) =>
    JSON.stringify({ records: { in: sent + 1, skipped: 0, errors: 1, sent }, shards: [], quarantined: [] });

  it('counts the records the shards hold: fewer than endpointMaxRecords go to an endpoint', async () => {
    await writeText(store, 'work/j/index/0.json', index(2));
    await writeText(store, 'work/j/index/1.json', index(3));
    expect(await chooseScoringStep(store, plan, job(6))).toEqual({
      empty: false,
      endpoint: true,
      image: 'cpu-image',
      reason: '5 records, fewer than endpointMaxRecords 6',
    });
    expect(await chooseScoringStep(store, plan, job(5))).toEqual({
      empty: false,
      endpoint: false,
      image: 'gpu-image',
      reason: '5 records, not fewer than endpointMaxRecords 5',
    });
    expect(await chooseScoringStep(store, plan, job(0))).toMatchObject({
      endpoint: false,
      image: 'gpu-image',
    });
    expect(scoresOnEndpoint(job(6).spec, 5)).toBe(true);
  });

  it('says when no record reached a shard, whatever the threshold', async () => {
    await writeText(store, 'work/j/index/0.json', index(0));
    await writeText(store, 'work/j/index/1.json', index(0));
    expect(await chooseScoringStep(store, plan, job(0))).toMatchObject({ empty: true, endpoint: false });
    expect(await chooseScoringStep(store, plan, job(6))).toMatchObject({ empty: true });
  });

  it('sends a whole-object job to a transform job, empty when every object was too large to send', async () => {
    const objects = (sent: number) => ({ ...plan, transform: { objects: { prefix: 'inbox/', sent } } });
    expect(await chooseScoringStep(store, objects(3), job(6))).toEqual({
      empty: false,
      endpoint: false,
      image: 'gpu-image',
      reason: 'whole-object jobs are scored by a transform job',
    });
    expect(await chooseScoringStep(store, objects(0), job(6))).toMatchObject({
      empty: true,
      endpoint: false,
    });
  });
});
