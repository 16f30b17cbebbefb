import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Float64, Table, vectorFromArray } from 'apache-arrow';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import {
  GROUP_BYTES,
  GROUP_INPUTS,
  GROUPS_PER_DOUBLING,
  type PlannedInput,
} from '../../../src/core/steps/inputs.ts';
import { MAX_PLAN_BYTES, type PlanConfig, planJob } from '../../../src/core/steps/plan.ts';
import { MemoryStore } from '../../support/memory-store.ts';
import { parquetFile } from '../../support/parquet.ts';

const config: PlanConfig = {
  objectUrl: (key) => `s3://bucket/${key}`,
  servingImage: (instanceType) => `tfs:${instanceType.includes('.p') ? 'gpu' : 'cpu'}`,
  trainingImage: 'tf-training',
  packagingSource: async () => [
    { name: 'package_hub_model.py', content: Buffer.from('print("packaged")\n') },
    { name: 'requirements.txt', content: Buffer.from('tensorflow-hub\n') },
  ],
  localModels: false,
  namePrefix: 'tfbp-dev',
};

let store: LocalObjectStore;
beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-plan-')));
  await writeText(store, 'inbox/day/a.csv', '1,2\n');
});

describe('planJob', () => {
  it('takes the bucket default, then the sidecar, then the request, and points SageMaker at the job folders', async () => {
    await writeText(
      store,
      'config/default-job.json',
      JSON.stringify({ model: 's3://m/default.tar.gz', instanceType: 'ml.c5.xlarge' }),
    );
    await writeText(
      store,
      'inbox/day/a.csv.job.json',
      JSON.stringify({ contentType: 'text/csv', instanceCount: 2 }),
    );
    const plan = await planJob(
      { jobId: 'inbox-a-1', inputs: ['inbox/day/a.csv'], job: { instanceCount: 3 } },
      store,
      config,
      new Date(0),
    );
    expect(plan.spec).toMatchObject({
      model: 's3://m/default.tar.gz',
      contentType: 'text/csv',
      instanceType: 'ml.c5.xlarge',
      instanceCount: 3,
    });
    expect(plan.inputs).toEqual({ count: 1, bytes: 4 });
    expect(plan.groups).toEqual([{ group: 0, first: 0, count: 1, bytes: 4 }]);
    expect(await listing('inbox-a-1')).toEqual([
      { index: 0, key: 'inbox/day/a.csv', name: 'day/a.csv', size: 4, request: 0 },
    ]);
    expect(plan.model).toEqual({
      image: 'tfs:cpu',
      serverlessImage: 'tfs:cpu',
      dataUrl: 's3://m/default.tar.gz',
      environment: {},
    });
    expect(plan.transform).toMatchObject({
      dataType: 'S3Prefix',
      inputUri: 's3://bucket/work/inbox-a-1/shards/',
      outputUri: 's3://bucket/work/inbox-a-1/outputs/',
      contentType: 'application/jsonlines',
      splitType: 'Line',
      compressionType: 'None',
    });
    expect(plan.startedAt).toBe('1970-01-01T00:00:00.000Z');
    expect(plan.names).toEqual({
      model: 'tfbp-dev-inbox-a-1',
      transform: 'tfbp-dev-inbox-a-1',
      training: 'tfbp-dev-inbox-a-1',
      endpoint: 'tfbp-dev-inbox-a-1',
      endpointConfig: 'tfbp-dev-inbox-a-1',
    });
    expect(plan.packageModel).toBe(false);
    expect(plan.packaging).toBeUndefined();
  });

  it('puts the deployment defaults under everything else', async () => {
    await writeText(store, 'config/default-job.json', JSON.stringify({ instanceType: 'ml.c5.xlarge' }));
    const deployment = {
      ...config,
      defaultJob: { model: 's3://m/x', instanceType: 'ml.g5.xlarge', maxErrorPercent: 1 },
    };
    const plan = await planJob({ jobId: 'j', inputs: ['inbox/day/a.csv'] }, store, deployment);
    expect(plan.spec).toMatchObject({ model: 's3://m/x', instanceType: 'ml.c5.xlarge', maxErrorPercent: 1 });
  });

  it('plans packaging for a TF-Hub handle in script mode, its source uploaded once the plan is valid', async () => {
    const plan = await planJob(
      { jobId: 'j', inputs: ['inbox/day/a.csv'], job: { model: 'tfhub:google/nnlm-en-dim50/2' } },
      store,
      config,
    );
    expect(plan.packageModel).toBe(true);
    expect(plan.model.dataUrl).toMatch(/^s3:\/\/bucket\/models\/hub-cache\/[0-9a-f]{24}\/model\.tar\.gz$/);
    expect(plan.model.environment).toEqual({ SAGEMAKER_TFS_DEFAULT_MODEL_NAME: 'nnlm-en-dim50' });
    expect(plan.packaging?.hyperParameters).toEqual({
      handle: '"google/nnlm-en-dim50/2"',
      model_name: '"nnlm-en-dim50"',
      model_version: '"2"',
      sagemaker_program: '"package_hub_model.py"',
      sagemaker_submit_directory: '"/opt/ml/input/data/code"',
    });
    const [code] = plan.packaging?.channels ?? [];
    expect(code?.ChannelName).toBe('code');
    const source = code?.DataSource.S3DataSource.S3Uri.replace('s3://bucket/', '') ?? '';
    expect(source).toMatch(/^code\/package-hub-model\/[0-9a-f]{64}\/$/);
    expect(await readText(store, `${source}package_hub_model.py`)).toBe('print("packaged")\n');
    expect(await readText(store, `${source}requirements.txt`)).toBe('tensorflow-hub\n');
    expect(plan.packaging?.outputPath).toBe('s3://bucket/work/j/model/');
    expect(plan.packaging?.cache).toEqual({
      bucket: 'bucket',
      copySource: 'bucket/work/j/model/tfbp-dev-j/output/model.tar.gz',
      key: plan.model.dataUrl.replace('s3://bucket/', ''),
    });
  });

  it('reuses a packaged handle: the same key skips packaging, other code does not', async () => {
    const job = { model: 'tfhub:https://tfhub.dev/google/nnlm-en-dim50/2' };
    const first = await planJob({ jobId: 'j1', inputs: ['inbox/day/a.csv'], job }, store, config);
    await writeText(store, first.model.dataUrl.replace('s3://bucket/', ''), 'model.tar.gz');
    const again = await planJob({ jobId: 'j2', inputs: ['inbox/day/a.csv'], job }, store, config);
    expect(again.packageModel).toBe(false);
    expect(again.packaging).toBeUndefined();
    expect(again.model.dataUrl).toBe(first.model.dataUrl);

    await writeText(store, 'models/code/inference.py', 'def input_handler(data, context): ...\n');
    const withCode = await planJob(
      {
        jobId: 'j3',
        inputs: ['inbox/day/a.csv'],
        job: { ...job, code: { inference: 's3://bucket/models/code/inference.py' } },
      },
      store,
      config,
    );
    expect(withCode.packageModel).toBe(true);
    expect(withCode.model.dataUrl).not.toBe(first.model.dataUrl);
    expect(withCode.packaging?.channels.map((channel) => channel.ChannelName)).toEqual(['code', 'inference']);
    await expect(
      planJob(
        {
          jobId: 'j4',
          inputs: ['inbox/day/a.csv'],
          job: { ...job, code: { requirements: 's3://other/r.txt' } },
        },
        store,
        config,
      ),
    ).rejects.toThrow('code.requirements: must be an object under s3://bucket/models/');
  });

  it('takes the deployment endpointMaxRecords under every other source', async () => {
    const deployment = { ...config, defaultJob: { endpointMaxRecords: 500 } };
    const job = { model: 's3://m/x' };
    const plan = await planJob({ jobId: 'j', inputs: ['inbox/day/a.csv'], job }, store, deployment);
    expect(plan.spec.endpointMaxRecords).toBe(500);
    const off = await planJob(
      { jobId: 'j', inputs: ['inbox/day/a.csv'], job: { ...job, endpointMaxRecords: 0 } },
      store,
      deployment,
    );
    expect(off.spec.endpointMaxRecords).toBe(0);
  });

  it('refuses a missing input, no input, a local model in the cloud, and a broken default file', async () => {
    await expect(
      planJob({ jobId: 'j', inputs: ['inbox/none.csv'], job: { model: 's3://m/x' } }, store, config),
    ).rejects.toMatchObject({ name: 'InputNotFoundError', message: 'input inbox/none.csv does not exist' });
    await expect(
      planJob({ jobId: 'j', inputs: [], job: { model: 's3://m/x' } }, store, config),
    ).rejects.toMatchObject({ name: 'NoInputError' });
    await expect(
      planJob({ jobId: 'j', inputs: ['inbox/day/a.csv'], job: { model: './models/iris' } }, store, config),
    ).rejects.toThrow('model: must be an s3:// URL');
    await writeText(store, 'config/default-job.json', '{"model":');
    await expect(planJob({ jobId: 'j', inputs: ['inbox/day/a.csv'] }, store, config)).rejects.toMatchObject({
      name: 'JobSpecError',
      field: 'config/default-job.json',
    });
  });

  it('refuses a Parquet input the job cannot send, naming the field and the input', async () => {
    await writeText(store, 'inbox/day/part-0.parquet', 'PAR1');
    const plan = (job: Record<string, unknown>) =>
      planJob(
        { jobId: 'j', inputs: ['inbox/day/part-0.parquet'], job: { model: 's3://m/x', ...job } },
        store,
        config,
      );

    await expect(plan({ contentType: 'application/json', splitType: 'None' })).rejects.toMatchObject({
      name: 'JobSpecError',
      message:
        'splitType: None does not go with Parquet (day/part-0.parquet), whose rows are the records: use Line',
    });
    await expect(plan({ contentType: 'application/x-image' })).rejects.toMatchObject({
      name: 'JobSpecError',
      field: 'contentType',
      message: expect.stringContaining('the rows of Parquet (day/part-0.parquet) are sent as JSON instances'),
    });
    await expect(plan({ contentType: 'text/csv' })).resolves.toMatchObject({ inputs: { count: 1 } });
    expect(await listing('j')).toMatchObject([{ name: 'day/part-0.parquet' }]);
  });
});

describe('planJob, on a folder', () => {
  it('takes every input object below it in key order, named relative to it, and its sidecar', async () => {
    for (const key of [
      'b/2.jsonl',
      'a.jsonl',
      'b/1.jsonl',
      '.hidden',
      'b/.crc/x',
      '_SUCCESS',
      'x.job.json',
    ]) {
      await writeText(store, `inbox/batch/${key}`, '{}\n');
    }
    await writeText(store, 'inbox/batch/empty.jsonl', '');
    await writeText(store, 'inbox/batch.job.json', JSON.stringify({ instanceCount: 2 }));
    const plan = await planJob(
      { jobId: 'folder', inputs: ['inbox/batch/'], job: { model: 's3://m/x' } },
      store,
      config,
    );
    expect((await listing('folder')).map(({ index, key, name }) => [index, key, name])).toEqual([
      [0, 'inbox/batch/a.jsonl', 'a.jsonl'],
      [1, 'inbox/batch/b/1.jsonl', 'b/1.jsonl'],
      [2, 'inbox/batch/b/2.jsonl', 'b/2.jsonl'],
    ]);
    expect(plan.spec.instanceCount).toBe(2);
    await expect(
      planJob({ jobId: 'j', inputs: ['inbox/nothing/'], job: { model: 's3://m/x' } }, store, config),
    ).rejects.toMatchObject({ name: 'NoInputError', message: expect.stringContaining('inbox/nothing/') });
  });
});

describe('planJob, for many inputs', () => {
  it('cuts the inputs into groups bounded by count and bytes, an input larger than the bound alone', async () => {
    const memory = new MemoryStore();
    memory.addListedFolder('inbox/small/', 2500, 10, (k) => `${String(k).padStart(4, '0')}.jsonl`);
    memory.addListedFolder('inbox/zz-large/', 2, GROUP_BYTES + 1, (k) => `${k}.jsonl`);
    const plan = await planJob(
      { jobId: 'many', inputs: ['inbox/small/', 'inbox/zz-large/'], job: { model: 's3://m/x' } },
      memory,
      config,
    );
    expect(plan.inputs).toEqual({ count: 2502, bytes: 25_000 + 2 * (GROUP_BYTES + 1) });
    expect(plan.groups).toEqual([
      { group: 0, first: 0, count: GROUP_INPUTS, bytes: 10_000 },
      { group: 1, first: 1000, count: GROUP_INPUTS, bytes: 10_000 },
      { group: 2, first: 2000, count: 500, bytes: 5000 },
      { group: 3, first: 2500, count: 1, bytes: GROUP_BYTES + 1 },
      { group: 4, first: 2501, count: 1, bytes: GROUP_BYTES + 1 },
    ]);
    const group2 = memory.objects.get('work/many/inputs/2.jsonl')?.toString('utf8').trim().split('\n') ?? [];
    expect(group2).toHaveLength(500);
    expect(JSON.parse(group2[0] ?? '')).toEqual({
      index: 2000,
      key: 'inbox/small/2000.jsonl',
      name: '2000.jsonl',
      size: 10,
      request: 0,
    });
  });

  it('splits a Parquet file over the part bound by row groups, each part a group alone, the file one input', async () => {
    // Prepare: a small input, then a Parquet file of 4 row groups, then another small input.
    const bytes = parquetFile(
      new Table({
        features: vectorFromArray(
          Array.from({ length: 8 }, (_, k) => k),
          new Float64(),
        ),
      }),
      { rowGroupRows: 2 },
    );
    await writeText(store, 'inbox/lake/a.jsonl', '[1]\n');
    const sink = await store.write('inbox/lake/b.parquet');
    await sink.write(bytes);
    await sink.close();
    await writeText(store, 'inbox/lake/c.jsonl', '[2]\n');
    // Act: a bound of one byte, so each row group is a part.
    const plan = await planJob(
      { jobId: 'lake', inputs: ['inbox/lake/'], job: { model: 's3://m/x' } },
      store,
      { ...config, parquetPartBytes: 1 },
    );
    // Assess
    expect(plan.inputs).toEqual({ count: 3, bytes: 8 + bytes.length });
    expect(plan.groups.map(({ bytes: _, ...group }) => group)).toEqual([
      { group: 0, first: 0, count: 1 },
      { group: 1, first: 1, count: 1, part: 0 },
      { group: 2, first: 1, count: 1, part: 1 },
      { group: 3, first: 1, count: 1, part: 2 },
      { group: 4, first: 1, count: 1, part: 3 },
      { group: 5, first: 2, count: 1 },
    ]);
    const entry = JSON.parse(await readText(store, 'work/lake/inputs/3.jsonl'));
    expect(entry).toMatchObject({
      index: 1,
      key: 'inbox/lake/b.parquet',
      size: bytes.length,
      part: { part: 2, parts: 4, rowGroups: { first: 2, end: 3 }, rows: 2 },
    });
    expect(plan.groups[3]?.bytes).toBe(entry.part.bytes);
  });

  it('lets the bounds grow, so that a job of millions of inputs stays near a thousand groups', async () => {
    const memory = new MemoryStore();
    const inputs = GROUPS_PER_DOUBLING * GROUP_INPUTS * 3;
    memory.addListedFolder('inbox/huge/', inputs, 1, (k) => `${String(k).padStart(7, '0')}`);
    const plan = await planJob(
      { jobId: 'huge', inputs: ['inbox/huge/'], job: { model: 's3://m/x' } },
      memory,
      config,
    );
    // 250 groups of 1,000, then 250 of 2,000.
    expect(plan.groups).toHaveLength(GROUPS_PER_DOUBLING * 2);
    expect(plan.groups[GROUPS_PER_DOUBLING]).toMatchObject({ count: 2 * GROUP_INPUTS });
    expect(plan.groups.at(-1)).toMatchObject({ first: inputs - 2 * GROUP_INPUTS });
    expect(Buffer.byteLength(JSON.stringify(plan))).toBeLessThan(MAX_PLAN_BYTES);
  });

  it('writes the manifest of a whole-object job, leaving out objects too large for one request', async () => {
    for (const key of ['a/1.png', 'a/2.png', 'b/3.png']) await writeText(store, `inbox/shots/${key}`, 'png');
    await writeText(store, 'inbox/shots/big.png', 'x'.repeat(1024 * 1024 + 1));
    const plan = await planJob(
      {
        jobId: 'images',
        inputs: ['inbox/shots/a/', 'inbox/shots/b/3.png', 'inbox/shots/big.png'],
        job: { model: 's3://m/x', contentType: 'image/png', splitType: 'None', maxPayloadInMB: 1 },
      },
      store,
      config,
    );
    expect(plan.transform).toEqual({
      dataType: 'ManifestFile',
      inputUri: 's3://bucket/work/images/manifest.json',
      outputUri: 's3://bucket/work/images/outputs/',
      contentType: 'image/png',
      splitType: 'None',
      compressionType: 'None',
      environment: {},
      objects: { prefix: 'inbox/shots/', sent: 3 },
    });
    expect(JSON.parse(await readText(store, 'work/images/manifest.json'))).toEqual([
      { prefix: 's3://bucket/inbox/shots/' },
      'a/1.png',
      'a/2.png',
      'b/3.png',
    ]);
    expect((await listing('images')).map(({ name, request }) => [name, request])).toEqual([
      ['1.png', 0],
      ['2.png', 0],
      ['shots/b/3.png', 1],
      ['shots/big.png', 2],
    ]);
  });

  it('asks the transform job to decompress the objects of a whole-object Gzip job, never shards', async () => {
    await writeText(store, 'inbox/packed/a.json.gz', 'gz');
    const job = { model: 's3://m/x', contentType: 'application/json', compressionType: 'Gzip' };
    const whole = await planJob(
      { jobId: 'packed', inputs: ['inbox/packed/'], job: { ...job, splitType: 'None' } },
      store,
      config,
    );
    expect(whole.transform).toMatchObject({ dataType: 'ManifestFile', compressionType: 'Gzip' });
    // Shards hold records already decompressed by Shard.
    const lines = await planJob({ jobId: 'lines', inputs: ['inbox/packed/'], job }, store, config);
    expect(lines.transform).toMatchObject({ dataType: 'S3Prefix', compressionType: 'None' });
  });

  it('refuses a plan too heavy for the state machine, leaving nothing behind', async () => {
    const environment = Object.fromEntries(
      Array.from({ length: 250 }, (_, k) => [`VARIABLE_${k}`, 'v'.repeat(1000)]),
    );
    await expect(
      planJob(
        { jobId: 'big', inputs: ['inbox/day/a.csv'], job: { model: 's3://m/x', environment } },
        store,
        config,
      ),
    ).rejects.toMatchObject({
      name: 'PlanTooLargeError',
      message: expect.stringMatching(/plan is \d+ KB, over the 200 KB /),
    });
    expect(await store.head('results/big/_job.json')).toBeUndefined();
    expect(await store.head('work/big/inputs/0.jsonl')).toBeUndefined();
  });

  it('leaves nothing under work/ when the listing is refused half way', async () => {
    await writeText(store, 'inbox/mixed/a.jsonl', '{}\n');
    await writeText(store, 'inbox/mixed/b.parquet', 'PAR1');
    await expect(
      planJob(
        { jobId: 'mixed', inputs: ['inbox/mixed/'], job: { model: 's3://m/x', contentType: 'image/png' } },
        store,
        config,
      ),
    ).rejects.toMatchObject({ name: 'JobSpecError' });
    expect(await store.head('work/mixed/inputs/0.jsonl')).toBeUndefined();
  });
});

/** A job's listing, every group's, in order. */
async function listing(jobId: string): Promise<PlannedInput[]> {
  const planned: PlannedInput[] = [];
  for await (const object of store.list(`work/${jobId}/inputs/`)) {
    for (const line of (await readText(store, object.key)).split('\n')) {
      if (line !== '') planned.push(JSON.parse(line) as PlannedInput);
    }
  }
  return planned.sort((a, b) => a.index - b.index);
}
