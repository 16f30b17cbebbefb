import { readFile } from 'node:fs/promises';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartUpload } from '../../src/adapters/s3-multipart.ts';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-store.ts';
import { writeText } from '../../src/core/ports/object-store.ts';
import { type S3rver, startS3rver } from '../support/s3rver.ts';

// The datasets live in a real S3-compatible server; Step Functions' answers are mocked.
const sfn = mockClient(SFNClient);
const context = { functionName: 'nightly', awsRequestId: 'r' } as unknown as Context;
let server: S3rver;

beforeAll(async () => {
  server = await startS3rver('nightly');
  Object.assign(process.env, {
    BUCKET: 'nightly',
    S3_ENDPOINT: server.endpoint,
    NAME_PREFIX: 'tfbp-test',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:p',
    NIGHTLY_DATASETS: JSON.stringify([{ name: 'iris', prefix: 'datasets/iris/', job: { instanceCount: 2 } }]),
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const store = new S3ObjectStore({
    bucket: 'nightly',
    upload: multipartUpload,
    client: createS3Client({ endpoint: server.endpoint }),
  });
  await writeText(store, 'datasets/iris/2026-11-21.jsonl', '{"features":[1]}\n');
  sfn
    .on(StartExecutionCommand)
    .callsFake((input: { name: string }) => ({ executionArn: `arn:execution:${input.name}` }));
}, 30_000);

afterAll(() => {
  server.stop();
  sfn.restore();
});

describe('nightly handler', () => {
  it('scores each configured dataset once for the night of the scheduled event', async () => {
    const { handler } = await import('../../functions/nightly.ts');
    const event = JSON.parse(
      await readFile(new URL('../../events/schedule/nightly.json', import.meta.url), 'utf8'),
    );
    const first = await handler(event, context);
    const second = await handler(event, context);
    expect(first.started).toEqual([
      { dataset: 'iris', executionArn: 'arn:execution:nightly-iris-2026-11-22', inputs: 1 },
    ]);
    expect(second.skipped).toEqual([
      { dataset: 'iris', reason: 'no new objects since the run of 2026-11-22' },
    ]);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    // The dataset's folder, however many objects it holds: Plan lists it.
    expect(JSON.parse(calls[0]?.args[0].input.input ?? '{}')).toEqual({
      inputs: ['datasets/iris/'],
      job: { instanceCount: 2 },
    });
  });

  it('refuses a dataset configuration that breaks the rules, naming them', async () => {
    const { handler } = await import('../../functions/nightly.ts');
    process.env.NIGHTLY_DATASETS = JSON.stringify([{ name: 'x', prefix: 'elsewhere/' }]);
    await expect(handler({ time: '2026-11-22T02:00:00Z' }, context)).rejects.toThrow(
      'a folder under datasets/',
    );
  });
});
