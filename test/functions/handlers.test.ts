import { readFile } from 'node:fs/promises';
import {
  DescribeTrainingJobCommand,
  DescribeTransformJobCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Field, Float64, List, Table, vectorFromArray } from 'apache-arrow';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartUpload } from '../../src/adapters/s3-multipart.ts';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-store.ts';
import { readText, writeText } from '../../src/core/ports/object-store.ts';
import type { Plan } from '../../src/core/steps/plan.ts';
import { parquetFile } from '../support/parquet.ts';
import { type S3rver, startS3rver } from '../support/s3rver.ts';

// The Lambda handlers as deployed, against a real S3-compatible server: each step is invoked with the
// event the state machine builds, and the next step gets what the previous one returned. SageMaker,
// which has no local stand-in yet, answers that the jobs Cleanup asks about are finished, and an
// endpoint (SageMaker Runtime) answers each instance with its sum.
const sageMaker = mockClient(SageMakerClient);
const runtime = mockClient(SageMakerRuntimeClient);
runtime.on(InvokeEndpointCommand).callsFake(({ Body }: { Body: Uint8Array }) => {
  const sums = Buffer.from(Body)
    .toString('utf8')
    .split('\n')
    .map((line) => (JSON.parse(line) as number[]).reduce((a, b) => a + b, 0));
  return { Body: Buffer.from(JSON.stringify({ predictions: sums })) };
});
sageMaker.on(DescribeTransformJobCommand).resolves({ TransformJobStatus: 'Completed' });
sageMaker
  .on(DescribeTrainingJobCommand)
  .rejects(Object.assign(new Error('Could not find job'), { name: 'ValidationException' }));

let server: S3rver;
let store: S3ObjectStore;
const context = {
  functionName: 'test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

beforeAll(async () => {
  server = await startS3rver('data');
  Object.assign(process.env, {
    BUCKET: 'data',
    S3_ENDPOINT: server.endpoint,
    NAME_PREFIX: 'tfbp-test',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    // A Parquet file of more than one row group is split: each row group a part.
    PARQUET_PART_BYTES: '1',
  });
  store = new S3ObjectStore({
    bucket: 'data',
    upload: multipartUpload,
    client: createS3Client({ endpoint: server.endpoint }),
  });
}, 30_000);

afterAll(() => {
  server.stop();
  sageMaker.restore();
  runtime.restore();
});

async function event(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(
    await readFile(new URL(`../../events/statemachine/${name}.json`, import.meta.url), 'utf8'),
  );
}

/**
 * The transform job's part for a group's first shard: one response, the model answering each instance
 * with its sum.
 */
async function answerWithSums(jobId: string, group: number): Promise<void> {
  const shardText = await readText(store, `work/${jobId}/shards/${group}/0.jsonl`);
  const sums = shardText
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as number[]).reduce((a, b) => a + b, 0));
  await writeText(
    store,
    `work/${jobId}/outputs/${group}/0.jsonl.out`,
    `${JSON.stringify({ predictions: sums })}\n`,
  );
}

describe('state machine step handlers', () => {
  it('plan, shard, merge, finish and cleanup carry a job through S3', async () => {
    // Prepare: the input the plan event names.
    await writeText(
      store,
      'inbox/iris/2026-11-22.jsonl',
      '{"id":1,"features":[5.1,3.5]}\n{"id":2}\n{"id":3,"features":[6.2,2.9]}\n',
    );
    const { handler: plan } = await import('../../functions/plan.ts');
    const { handler: shard } = await import('../../functions/shard.ts');
    const { handler: merge } = await import('../../functions/merge.ts');
    const { handler: finish } = await import('../../functions/finish.ts');
    const { handler: cleanup } = await import('../../functions/cleanup.ts');

    // Act
    const planned = (await plan(await event('plan'), context)) as Plan;
    const [group] = planned.groups;
    if (!group) throw new Error('no input planned');
    const perGroup = { jobId: planned.jobId, spec: planned.spec, group };
    const sharded = await shard(perGroup, context);
    await answerWithSums(planned.jobId, 0);
    const merged = await merge({ ...perGroup, transform: planned.transform, scoring: {} }, context);
    const summary = await finish({ plan: planned }, context);
    const cleaned = await cleanup(await event('cleanup'), context);

    // Assess
    expect(planned.names.model).toBe('tfbp-test-inbox-2026-11-22-iris-0b1c2d3e');
    expect(planned.model.image).toBe(
      '763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.16-gpu',
    );
    expect(planned.transform.inputUri).toBe(`s3://data/work/${planned.jobId}/shards/`);
    expect(sharded).toMatchObject({ shards: 1, records: { in: 3, sent: 2, errors: 1 } });
    expect(await readText(store, `results/${planned.jobId}/iris/2026-11-22.jsonl.out`)).toBe(
      '{"id":1,"SageMakerOutput":8.6}\n{"id":3,"SageMakerOutput":9.1}\n',
    );
    // One record in three has no features: over the default maxErrorPercent of 5.
    expect(merged).toEqual({ group: 0, records: { in: 3, out: 2, errors: 1 } });
    expect(summary).toMatchObject({ status: 'Failed', records: { in: 3, out: 2, errors: 1 } });
    expect(summary.reason).toContain('1 of 3 records (33.33%) could not be scored');
    expect(cleaned).toMatchObject({ stopped: [] });
    expect(cleaned.deleted).toBeGreaterThan(0);
    expect(await store.head(`work/${planned.jobId}/index/0.json`)).toBeUndefined();
  });

  it('shard and merge each part of a split Parquet file in S3, and finish joins their outputs', async () => {
    // Prepare: 9 rows in 3 row groups of 3.
    const features = vectorFromArray(
      Array.from({ length: 9 }, (_, k) => [k, 1]),
      new List(new Field('item', new Float64(), true)),
    );
    const sink = await store.write('inbox/lake/t.parquet');
    await sink.write(parquetFile(new Table({ features }), { rowGroupRows: 3 }));
    await sink.close();
    const { handler: plan } = await import('../../functions/plan.ts');
    const { handler: shard } = await import('../../functions/shard.ts');
    const { handler: merge } = await import('../../functions/merge.ts');
    const { handler: finish } = await import('../../functions/finish.ts');
    const job = { model: 's3://m/model.tar.gz', dataProcessing: { inputFilter: '$.features' } };

    // Act: each group as the Maps run it, the transform job's part played by summing each instance.
    const planned = (await plan(
      { jobId: 'lake-1', request: { inputs: ['inbox/lake/t.parquet'], job } },
      context,
    )) as Plan;
    for (const group of planned.groups) {
      const perGroup = { jobId: planned.jobId, spec: planned.spec, group };
      await shard(perGroup, context);
      await answerWithSums('lake-1', group.group);
      await merge({ ...perGroup, transform: planned.transform, scoring: {} }, context);
    }
    const summary = await finish({ plan: planned }, context);

    // Assess
    expect(planned.groups.map((group) => group.part)).toEqual([0, 1, 2]);
    expect(await readText(store, 'results/lake-1/lake/t.parquet.out')).toBe(
      `${Array.from({ length: 9 }, (_, k) => `${k + 1}`).join('\n')}\n`,
    );
    expect(summary).toMatchObject({
      status: 'Succeeded',
      inputs: [{ key: 'lake/t.parquet', records: 9, errors: 0 }],
      records: { in: 9, out: 9, errors: 0 },
    });
  });

  it('route and score take a job of few records to a serverless endpoint, writing what Merge reads', async () => {
    // Prepare
    await writeText(store, 'inbox/small.jsonl', '{"features":[1,2]}\n{"features":[3,4.5]}\n');
    const { handler: plan } = await import('../../functions/plan.ts');
    const { handler: shard } = await import('../../functions/shard.ts');
    const { handler: route } = await import('../../functions/route.ts');
    const { handler: score } = await import('../../functions/score.ts');
    const { handler: merge } = await import('../../functions/merge.ts');
    // Act
    const planned = (await plan(
      {
        jobId: 'small-1',
        request: {
          inputs: ['inbox/small.jsonl'],
          job: { model: 's3://m/x', endpointMaxRecords: 10, dataProcessing: { inputFilter: '$.features' } },
        },
      },
      context,
    )) as Plan;
    const [group] = planned.groups;
    if (!group) throw new Error('no input planned');
    await shard({ jobId: planned.jobId, spec: planned.spec, group }, context);
    const routed = await route({ plan: planned }, context);
    const scored = await score(
      {
        jobId: planned.jobId,
        spec: planned.spec,
        endpoint: planned.names.endpoint,
      },
      context,
    );
    await merge(
      { jobId: planned.jobId, spec: planned.spec, group, transform: planned.transform, scoring: {} },
      context,
    );
    // Assess
    expect(routed).toEqual({
      empty: false,
      endpoint: true,
      image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.16-cpu',
      reason: '2 records, fewer than endpointMaxRecords 10',
    });
    expect(scored).toEqual({ shards: 1, requests: 1, records: 2 });
    expect(runtime.commandCalls(InvokeEndpointCommand)[0]?.args[0].input).toMatchObject({
      EndpointName: 'tfbp-test-small-1',
      ContentType: 'application/jsonlines',
      Accept: 'application/jsonlines',
    });
    expect(await readText(store, 'results/small-1/small.jsonl.out')).toBe('3\n7.5\n');
  });

  it('throws a named error for an event of the wrong shape and for an invalid job spec', async () => {
    const { handler: plan } = await import('../../functions/plan.ts');
    await expect(plan({ jobId: 'x' }, context)).rejects.toMatchObject({
      name: 'InvalidEventError',
      message: expect.stringContaining('request'),
    });
    await writeText(store, 'inbox/a.jsonl', '{}\n');
    const bad = {
      jobId: 'x',
      request: { inputs: ['inbox/a.jsonl'], job: { model: 's3://m/x', batchStrategy: 'Everything' } },
    };
    await expect(plan(bad, context)).rejects.toMatchObject({ name: 'JobSpecError', field: 'batchStrategy' });
  });
});

describe('the functions environment', () => {
  it('fills in the account, region and partition from the function ARN', async () => {
    const { resolveEnvironment } = await import('../../src/handlers/lambda.ts');
    const environment: NodeJS.ProcessEnv = {
      BUCKET: 'tf-batch-pipeline-dev-{account}-{region}',
      STATE_MACHINE_ARN: 'arn:{partition}:states:{region}:{account}:stateMachine:tf-batch-pipeline-dev',
      OTHER: 'left {alone}',
    };
    resolveEnvironment(
      environment,
      'arn:aws:lambda:eu-west-1:123456789012:function:tf-batch-pipeline-dev-ingest',
    );
    expect(environment).toEqual({
      BUCKET: 'tf-batch-pipeline-dev-123456789012-eu-west-1',
      STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:tf-batch-pipeline-dev',
      OTHER: 'left {alone}',
    });
  });
});

describe('state machine step handlers, failing', () => {
  it('name what is missing, so that the execution fails with the cause', async () => {
    const { handler: shard } = await import('../../functions/shard.ts');
    const { handler: merge } = await import('../../functions/merge.ts');
    const { handler: finish } = await import('../../functions/finish.ts');
    const { handler: cleanup } = await import('../../functions/cleanup.ts');
    const fixture = async (name: string) =>
      JSON.parse(await readFile(new URL(`../../events/statemachine/${name}.json`, import.meta.url), 'utf8'));
    const shardEvent = { ...(await fixture('shard')), jobId: 'missing-1' };
    const mergeEvent = { ...(await fixture('merge')), jobId: 'missing-1' };
    await expect(shard(shardEvent, context)).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      key: 'work/missing-1/inputs/0.jsonl',
    });
    const input = { index: 0, key: 'inbox/gone.jsonl', name: 'gone.jsonl', size: 1, request: 0 };
    await writeText(store, 'work/missing-1/inputs/0.jsonl', `${JSON.stringify(input)}\n`);
    await expect(shard(shardEvent, context)).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      key: 'inbox/gone.jsonl',
    });
    await expect(merge(mergeEvent, context)).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      key: 'work/missing-1/index/0.json',
    });
    const plan = {
      jobId: 'missing-1',
      spec: shardEvent.spec,
      groups: [shardEvent.group],
      startedAt: new Date(0).toISOString(),
    };
    await expect(finish({ plan }, context)).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      key: 'work/missing-1/merged/0.json',
    });
    await expect(cleanup({ names: {} }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});
