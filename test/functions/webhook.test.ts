import { readFile } from 'node:fs/promises';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../src/core/triggers/webhook.ts';

// Step Functions and SSM have no local stand-ins the handler could reach: their answers are mocked.
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);
const context = { functionName: 'webhook', awsRequestId: 'r' } as unknown as Context;
const bucket = 'tf-batch-pipeline-dev-123456789012-eu-west-1';

beforeAll(() => {
  Object.assign(process.env, {
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:tf-batch-pipeline-dev',
    WEBHOOK_SECRET_PARAMETER: '/tf-batch-pipeline/dev/webhook-secret',
    BUCKET: bucket,
    NAME_PREFIX: 'tfbp-dev',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'the-secret' } });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `arn:aws:states:eu-west-1:123456789012:execution:p:${input.name}`,
  }));
});
afterAll(() => {
  sfn.restore();
  ssm.restore();
});

async function request(secret: string) {
  const event = JSON.parse(
    await readFile(new URL('../../events/http/post-runs.json', import.meta.url), 'utf8'),
  );
  const timestamp = String(Math.floor(Date.now() / 1000));
  event.headers['x-pipeline-timestamp'] = timestamp;
  event.headers['x-pipeline-signature'] = sign(secret, timestamp, event.body);
  return event;
}

describe('webhook handler', () => {
  it('answers 202 to a request signed with the secret from SSM, reading the secret once', async () => {
    const { handler } = await import('../../functions/webhook.ts');
    const first = (await handler(await request('the-secret'), context)) as {
      statusCode: number;
      body: string;
    };
    const again = (await handler(await request('the-secret'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(first.statusCode).toBe(202);
    expect(JSON.parse(first.body)).toMatchObject({ jobId: expect.stringMatching(/^webhook-/) });
    expect(JSON.parse(again.body)).toEqual(JSON.parse(first.body));
    const started = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(JSON.parse(started?.input ?? '{}')).toEqual({ inputs: ['inbox/iris/2026-11-22.jsonl'] });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/tf-batch-pipeline/dev/webhook-secret',
      WithDecryption: true,
    });
  });

  it('answers 401 to a request signed with another secret', async () => {
    const { handler } = await import('../../functions/webhook.ts');
    const response = (await handler(await request('guessed'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body)).toEqual({ error: 'the signature does not match' });
  });
});
