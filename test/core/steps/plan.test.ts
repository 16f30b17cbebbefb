import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import { type PlanConfig, planJob } from '../../../src/core/steps/plan.ts';

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
    expect(plan.inputs).toEqual([{ index: 0, key: 'inbox/day/a.csv', name: 'day/a.csv', size: 4 }]);
    expect(plan.model).toEqual({
      image: 'tfs:cpu',
      serverlessImage: 'tfs:cpu',
      dataUrl: 's3://m/default.tar.gz',
      environment: {},
    });
    expect(plan.transform).toMatchObject({
      inputUri: 's3://bucket/work/inbox-a-1/shards/',
      outputUri: 's3://bucket/work/inbox-a-1/outputs/',
      contentType: 'application/jsonlines',
      splitType: 'Line',
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
    await expect(plan({ contentType: 'text/csv' })).resolves.toMatchObject({
      inputs: [{ name: 'day/part-0.parquet' }],
    });
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
    expect(plan.inputs.map(({ index, key, name }) => [index, key, name])).toEqual([
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
  it('refuses a plan too heavy for the state machine, before writing anything', async () => {
    const folder = `inbox/${'d'.repeat(200)}`;
    const inputs = Array.from({ length: 250 }, (_, k) => `${folder}/${'f'.repeat(200)}-${k}.jsonl`);
    await Promise.all(inputs.map((key) => writeText(store, key, '{}\n')));
    await expect(
      planJob({ jobId: 'big', inputs, job: { model: 's3://m/x' } }, store, config),
    ).rejects.toMatchObject({
      name: 'PlanTooLargeError',
      message: expect.stringMatching(/plan is \d+ KB, over the 200 KB .*split its inputs over several jobs/),
    });
    expect(await store.head('results/big/_job.json')).toBeUndefined();
  });
});
