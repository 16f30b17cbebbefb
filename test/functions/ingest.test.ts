import { readFile } from 'node:fs/promises';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Only Step Functions can say an execution already exists: its answers are mocked.
const sfn = mockClient(SFNClient);
const context = { functionName: 'ingest', awsRequestId: 'r' } as unknown as Context;
const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:tf-batch-pipeline-dev';

beforeAll(() => {
  // Ingest only starts executions: the deployment's job defaults (malformed here) and the bucket are
  // the Plan step's business, so neither may stop an upload from starting its job.
  Object.assign(process.env, {
    STATE_MACHINE_ARN: stateMachineArn,
    DEFAULT_JOB: '{"model": ',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  delete process.env.BUCKET;
});
afterAll(() => sfn.restore());

describe('ingest handler', () => {
  it('starts an execution for the decoded key, and counts a repeated delivery as done, whatever DEFAULT_JOB holds', async () => {
    const event = JSON.parse(
      await readFile(new URL('../../events/s3/object-created.json', import.meta.url), 'utf8'),
    );
    const { handler } = await import('../../functions/ingest.ts');
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'arn:first', startDate: new Date() })
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const first = await handler(event, context);
    const second = await handler(event, context);
    const input = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(JSON.parse(input?.input ?? '{}').inputs).toEqual(['inbox/café résultats 2026-11-22.jsonl']);
    expect(input?.stateMachineArn).toBe(stateMachineArn);
    expect(first.started).toEqual([
      { key: 'inbox/café résultats 2026-11-22.jsonl', executionArn: 'arn:first' },
    ]);
    expect(second.repeated[0]?.executionArn).toBe(
      `arn:aws:states:eu-west-1:123456789012:execution:tf-batch-pipeline-dev:${input?.name}`,
    );
  });

  it('starts nothing for a part file of a batch folder, and one job over the folder for its _SUCCESS marker', async () => {
    const marker = JSON.parse(
      await readFile(new URL('../../events/s3/batch-marker.json', import.meta.url), 'utf8'),
    );
    const part = structuredClone(marker);
    part.Records[0].s3.object.key = 'inbox/2026-11-22/part-00000-8f2c.snappy.parquet';
    part.Records[0].s3.object.size = 52_311;
    const { handler } = await import('../../functions/ingest.ts');
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:batch', startDate: new Date() });

    const waiting = await handler(part, context);
    const started = await handler(marker, context);

    expect(waiting.skipped).toEqual([
      {
        key: 'inbox/2026-11-22/part-00000-8f2c.snappy.parquet',
        reason: 'part of batch inbox/2026-11-22/, waiting for its _SUCCESS marker',
      },
    ]);
    expect(started.started).toEqual([{ key: 'inbox/2026-11-22/_SUCCESS', executionArn: 'arn:batch' }]);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.name).toMatch(/^inbox-2026-11-22-[0-9a-f]{20}$/);
    expect(JSON.parse(calls[0]?.args[0].input.input ?? '{}')).toMatchObject({
      inputs: ['inbox/2026-11-22/'],
    });
  });

  it('rejects an event that is not an S3 notification', async () => {
    const { handler } = await import('../../functions/ingest.ts');
    await expect(handler({ detail: {} }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});
