import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InputCount, JobEstimate } from '../../src/core/estimate.ts';
import type { ImageProposal } from '../../src/core/image-jobs.ts';
import { PRICES } from '../../src/core/prices.ts';
import { encodeExample } from '../../src/core/records/example.ts';
import { encodeTfRecords } from '../../src/core/records/tfrecord.ts';
import { pipeline } from '../support/cli.ts';

// `pipeline plan` reads the files as the Shard step does, with nothing written and nothing run, and
// prices what the job would do from the table in the repository.

let dir = '';
let big = '';
let small = '';

async function file(path: string, content: string | Buffer): Promise<string> {
  const full = join(dir, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, content);
  return full;
}

async function job(name: string, spec: Record<string, unknown>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ model: 's3://bucket/models/m/model.tar.gz', ...spec }));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-plan-'));
  // 30,000 records of about 85 bytes, one of them broken: about 2.5 MB, three shards of 1 MB.
  const rows = Array.from(
    { length: 30_000 },
    (_, k) => `{"id":${k},"features":[${k % 997},${k % 31}],"pad":"${'x'.repeat(40)}"}\n`,
  );
  rows[10] = '{"id":10,\n';
  big = join(dir, 'big.jsonl');
  await writeFile(big, rows.join(''));
  small = join(dir, 'small.jsonl');
  await writeFile(small, '{"features":[1,2]}\n\n{"features":[3,4]}\n');
});

describe('pipeline plan', () => {
  it('tells what a transform job would do, with instance-minutes and cost at dated prices', async () => {
    // Act
    const spec = await job('big.job.json', {
      shardSizeInMB: 1,
      maxPayloadInMB: 1,
      instanceType: 'ml.m5.xlarge',
      instanceCount: 2,
      dataProcessing: { inputFilter: '$.features' },
    });
    const { code, stdout } = await pipeline('plan', big, '--job', spec, '--records-per-second', '500');
    const json = await pipeline('plan', big, '--job', spec, '--records-per-second', '500', '--json');
    // Assess
    expect(code).toBe(0);
    const estimate = JSON.parse(json.stdout) as JobEstimate & { files: InputCount[] };
    expect(estimate).toMatchObject({
      scoring: 'transform',
      reason: 'endpointMaxRecords is 0',
      inputs: 1,
      records: { in: 30_000, sent: 29_999, errors: 1, skipped: 0 },
      transform: { instanceType: 'ml.m5.xlarge', instanceCount: 2 },
      prices: { region: PRICES.region, asOf: PRICES.asOf },
    });
    // Shards of filtered instances: far less than the input, one request each under 1 MB.
    expect(estimate.shards).toBe(1);
    expect(estimate.requests).toBe(1);
    const minutes = 2 * 5 + 29_999 / 500 / 60;
    expect(estimate.transform?.instanceMinutes).toBeCloseTo(minutes, 6);
    expect(estimate.cost).toBeCloseTo(((PRICES.instanceHour['ml.m5.xlarge'] ?? 0) * minutes) / 60, 6);
    expect(stdout).toContain('29999 to score (1 record would be quarantined), in 1 shard');
    expect(stdout).toContain('a transform job on 2 × ml.m5.xlarge (endpointMaxRecords is 0)');
    expect(stdout).toContain(`on-demand prices as of ${PRICES.asOf}`);
    expect(await readdir(dir)).not.toContain('work');
  });

  it('counts shards and requests as the Shard step and the transform job cut them', async () => {
    const spec = await job('verbatim.job.json', { shardSizeInMB: 1, maxPayloadInMB: 1 });
    const { stdout } = await pipeline('plan', big, '--job', spec, '--json');
    const estimate = JSON.parse(stdout) as JobEstimate & { files: InputCount[] };
    // Lines passed as they are (no filter): about 2.4 MB, cut at the first line end after 1 MB, so the
    // two full shards take two requests of at most 1 MB each.
    expect(estimate.shards).toBe(3);
    expect(estimate.requests).toBe(5);
    expect(estimate.files[0]?.bytes).toBeGreaterThan(2_400_000);
    const single = await pipeline('plan', small, '--job', spec, '--json');
    expect(JSON.parse(single.stdout)).toMatchObject({ records: { sent: 2, skipped: 1 }, requests: 1 });
    const perRecord = await job('single.job.json', { batchStrategy: 'SingleRecord' });
    const singleRecord = await pipeline('plan', small, '--job', perRecord, '--json');
    expect(JSON.parse(singleRecord.stdout)).toMatchObject({ requests: 2 });
  });

  it('tells when a job would go to a serverless endpoint, and that a TF-Hub model is packaged first', async () => {
    const spec = await job('hub.job.json', {
      model: 'tfhub:google/nnlm-en-dim50/2',
      endpointMaxRecords: 100,
      serverlessConfig: { memorySizeInMB: 4096, maxConcurrency: 3 },
    });
    const { code, stdout } = await pipeline(
      'plan',
      small,
      '--job',
      spec,
      '--records-per-second',
      '2',
      '--json',
    );
    expect(code).toBe(0);
    const estimate = JSON.parse(stdout) as JobEstimate;
    expect(estimate).toMatchObject({
      scoring: 'endpoint',
      reason: '2 records, fewer than endpointMaxRecords 100',
      requests: 1,
      endpoint: { memorySizeInMB: 4096, maxConcurrency: 3, computeSeconds: 1 },
      packaging: { instanceType: 'ml.m5.large', instanceMinutes: 15 },
    });
    const endpointCost = (PRICES.serverless.perSecond['4096'] ?? 0) * 1;
    expect(estimate.endpoint?.cost).toBeGreaterThanOrEqual(endpointCost);
    expect(estimate.cost).toBeCloseTo((estimate.endpoint?.cost ?? 0) + (estimate.packaging?.cost ?? 0), 9);
    const text = await pipeline('plan', small, '--job', spec);
    expect(text.stdout).toContain('a serverless endpoint, 4096 MB, MaxConcurrency 3');
    expect(text.stdout).toContain('packaging:  google/nnlm-en-dim50/2 on ml.m5.large (spot)');
  });

  it('takes the data dir default job spec, and says when a price is not in the table', async () => {
    const dataDir = join(dir, 'data');
    await mkdir(join(dataDir, 'config'), { recursive: true });
    await writeFile(
      join(dataDir, 'config', 'default-job.json'),
      JSON.stringify({ instanceType: 'ml.z9.large' }),
    );
    const spec = await job('plain.job.json', {});
    const { stdout } = await pipeline('plan', small, '--job', spec, '--data-dir', dataDir);
    expect(stdout).toContain('1 × ml.z9.large');
    expect(stdout).toContain('cost:       unknown: the price table (src/core/prices.ts) has no price');
  });

  it('refuses what it cannot plan with exit status 2, naming the field or flag', async () => {
    expect(await pipeline('plan')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('at least one input file'),
    });
    expect(await pipeline('plan', small)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no model'),
    });
    const spec = await job('bad.job.json', { endpointMaxRecords: -1 });
    expect(await pipeline('plan', small, '--job', spec)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('endpointMaxRecords'),
    });
    expect(await pipeline('plan', small, '--job', spec, '--records-per-second', '0')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--records-per-second must be a number over 0'),
    });
    const help = await pipeline('plan', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--records-per-second N');
    expect((await pipeline('--help')).stdout).toContain('pipeline plan <file or folder...>');
  });

  it('reads a folder as the job would: every input below it, gzipped ones decompressed', async () => {
    const records = Array.from({ length: 40 }, (_, k) => `{"features":[${k},1]}\n`).join('');
    await file('folder/a/plain.jsonl', records);
    await file('folder/b/packed.jsonl.gz', gzipSync(records));
    await file('folder/.hidden/skipped.jsonl', records);
    const spec = await job('folder.job.json', { dataProcessing: { inputFilter: '$.features' } });
    const { code, stdout } = await pipeline('plan', join(dir, 'folder'), '--job', spec, '--json');
    expect(code).toBe(0);
    const estimate = JSON.parse(stdout) as JobEstimate & { files: InputCount[] };
    expect(estimate.files.map((counted) => [counted.input, counted.records.sent])).toEqual([
      ['a/plain.jsonl', 40],
      ['b/packed.jsonl.gz', 40],
    ]);
  });

  it('proposes the configuration AWS measured for a folder of images, and estimates from its published rate', async () => {
    // Prepare: 300 small images in nested folders (their bytes are not read: each is one record).
    for (let k = 0; k < 300; k++)
      await file(`images/${k % 3}/${k}.${k % 2 ? 'jpg' : 'png'}`, Buffer.alloc(100, k));
    await file('images/_SUCCESS', '');
    // Act
    const text = await pipeline('plan', join(dir, 'images'), '--model', 's3://b/m/model.tar.gz');
    const json = await pipeline('plan', join(dir, 'images'), '--model', 's3://b/m/model.tar.gz', '--json');
    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'contentType application/x-image, splitType None, batchStrategy SingleRecord, maxPayloadInMB 1, maxConcurrentTransforms 64',
    );
    expect(text.stdout).toContain('300 to score, each object one record');
    expect(text.stdout).toContain('a published measurement on ml.p3.2xlarge: 100,000 JPEG images');
    expect(text.stdout).toContain('in about 12 minutes on 2 × ml.p3.2xlarge');
    const estimate = JSON.parse(json.stdout) as JobEstimate & { proposal: ImageProposal };
    expect(estimate).toMatchObject({ inputs: 300, requests: 300, records: { sent: 300 } });
    // The measured rate: 100,000 images in 12 minutes on two instances, start-up included.
    const perInstance = 100_000 / (12 * 60) / 2;
    expect(estimate.assumptions.recordsPerSecond).toBeCloseTo(perInstance, 9);
    expect(estimate.transform?.minutes).toBeCloseTo(300 / perInstance / 60, 9);
    // At that rate 100,000 images on the measured two instances take the measured 12 minutes.
    const measured = await pipeline(
      'plan',
      join(dir, 'images'),
      '--job',
      await job('two.job.json', { instanceCount: 2 }),
      '--json',
    );
    const two = JSON.parse(measured.stdout) as JobEstimate;
    expect(((two.transform?.minutes ?? 0) * 100_000) / 300).toBeCloseTo(12, 9);
  });

  it('keeps what the job spec sets over the proposal, and takes --records-per-second over the measured rate', async () => {
    const spec = await job('own.job.json', { batchStrategy: 'MultiRecord', maxPayloadInMB: 5 });
    const { stdout } = await pipeline('plan', join(dir, 'images'), '--job', spec, '--json');
    const estimate = JSON.parse(stdout) as JobEstimate & { proposal: ImageProposal };
    expect(estimate.proposal.fields).toEqual({
      contentType: 'application/x-image',
      splitType: 'None',
      maxConcurrentTransforms: 20,
    });
    const given = await pipeline('plan', join(dir, 'images'), '--job', spec, '--records-per-second', '10');
    expect(given.stdout).toContain('the records at 10 a second');
    expect(given.stdout).not.toContain('published measurement');
  });

  it('proposes TFS request batching for TFRecord files of images, as AWS measured them', async () => {
    const image = (k: number) => encodeExample({ 'image/encoded': { bytes: [Buffer.alloc(50, k)] } });
    for (const part of [0, 1]) {
      await file(`records/part-${part}.tfrecord`, encodeTfRecords([image(part), image(part + 2)]));
    }
    const spec = await job('tfrecord.job.json', { dataProcessing: { inputFilter: "$['image/encoded'][0]" } });
    const { code, stdout } = await pipeline('plan', join(dir, 'records'), '--job', spec);
    expect(code).toBe(0);
    expect(stdout).toContain(
      'contentType application/x-tfrecord, splitType TFRecord, batchStrategy SingleRecord, maxPayloadInMB 1, ' +
        'maxConcurrentTransforms 100, SAGEMAKER_TFS_ENABLE_BATCHING=true, SAGEMAKER_TFS_MAX_BATCH_SIZE=16, ' +
        'SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS=50000',
    );
    expect(stdout).toContain('4 to score');
    expect(stdout).toContain(
      '100,000 images in 100 TFRecord files (ResNet-50, TFS request batching) in about 8 minutes',
    );
    // TFRecord files of other records get no proposal.
    await file('numbers/n.tfrecord', encodeTfRecords([encodeExample({ x: { floats: [1] } })]));
    const plain = await pipeline('plan', join(dir, 'numbers'), '--job', await job('n.job.json', {}));
    expect(plain.stdout).not.toContain('proposed');
  });
});
