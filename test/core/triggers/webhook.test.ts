import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { writeText } from '../../../src/core/ports/object-store.ts';
import {
  handleWebhook,
  MAX_BODY_BYTES,
  sign,
  type WebhookDependencies,
} from '../../../src/core/triggers/webhook.ts';
import { NamedExecutions } from '../../support/executions.ts';

const secret = 's3cr3t-for-tests';
const now = 1_800_000_000_000;
let executions: NamedExecutions;
let deps: WebhookDependencies;

beforeEach(async () => {
  executions = new NamedExecutions();
  const store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-webhook-')));
  await writeText(
    store,
    'results/inbox-a-1/_job.json',
    JSON.stringify({ jobId: 'inbox-a-1', inputs: ['inbox/a.jsonl'], job: { model: 's3://m/x' } }),
  );
  deps = { secret: async () => secret, executions, store, bucket: 'data', now: () => now };
});

function signed(body: string, headers: Record<string, string> = {}, at = now / 1000) {
  const timestamp = String(Math.floor(at));
  return {
    headers: {
      'x-pipeline-timestamp': timestamp,
      'x-pipeline-signature': sign(secret, timestamp, body),
      ...headers,
    },
    body,
  };
}

describe('POST /runs', () => {
  it('answers 202 with the job id to a signed request, and starts the job over the given inputs', async () => {
    const response = await handleWebhook(
      signed('{"inputs":["s3://data/inbox/b.jsonl"],"job":{"instanceCount":2}}'),
      deps,
    );
    expect(response.status).toBe(202);
    expect(response.body.jobId).toMatch(/^webhook-/);
    expect([...executions.byName.values()]).toEqual([
      { inputs: ['inbox/b.jsonl'], job: { instanceCount: 2 } },
    ]);
  });

  it('reruns a past job with the same inputs and spec, under a new job id that names the original', async () => {
    const response = await handleWebhook(signed('{"rerun":"inbox-a-1"}'), deps);
    expect(response.status).toBe(202);
    expect(response.body.jobId).not.toBe('inbox-a-1');
    expect([...executions.byName.values()]).toEqual([
      { inputs: ['inbox/a.jsonl'], job: { model: 's3://m/x' }, rerunOf: 'inbox-a-1' },
    ]);
    expect((await handleWebhook(signed('{"rerun":"nope"}'), deps)).status).toBe(404);
  });

  it('refuses a bad signature, a stale timestamp, an oversized body and invalid JSON, starting nothing', async () => {
    const good = signed('{"rerun":"inbox-a-1"}');
    const answers = await Promise.all([
      handleWebhook(
        {
          ...good,
          headers: {
            ...good.headers,
            'x-pipeline-signature': sign('wrong', good.headers['x-pipeline-timestamp'], good.body),
          },
        },
        deps,
      ),
      handleWebhook({ headers: {}, body: good.body }, deps),
      handleWebhook(signed(good.body, {}, now / 1000 - 301), deps),
      handleWebhook(signed(`{"rerun":"${'x'.repeat(MAX_BODY_BYTES)}"}`), deps),
      handleWebhook(signed('{"rerun":'), deps),
      handleWebhook(signed('{"inputs":[]}'), deps),
      handleWebhook(signed('{"inputs":["s3://other/x"]}'), deps),
    ]);
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 413, 400, 400, 400]);
    expect(answers[5]?.body.field).toBe('inputs');
    expect(executions.byName.size).toBe(0);
  });

  it('refuses input keys with . or .. parts, a leading / or a backslash, naming the field', async () => {
    for (const key of [
      '../secret.jsonl',
      's3://data/inbox/../../secret.jsonl',
      'inbox/./a.jsonl',
      '/etc/passwd',
      'inbox\\..\\a.jsonl',
    ]) {
      const answer = await handleWebhook(signed(JSON.stringify({ inputs: ['inbox/a.jsonl', key] })), deps);
      expect(answer).toMatchObject({ status: 400, body: { field: 'inputs' } });
    }
    expect(executions.byName.size).toBe(0);
    const dotted = await handleWebhook(signed('{"inputs":["inbox/..a..jsonl"]}'), deps);
    expect(dotted.status).toBe(202);
  });

  it('refuses a job spec with an invalid field with 400 naming the field, starting nothing', async () => {
    for (const [job, field] of [
      [{ instanceCount: 0 }, 'job.instanceCount'],
      [{ dataProcessing: { outputFilter: '$[[[bad' } }, 'job.dataProcessing.outputFilter'],
      [{ batchStrategy: 'Everything' }, 'job.batchStrategy'],
      [{ colour: 'red' }, 'job.(spec)'],
    ] as const) {
      const answer = await handleWebhook(signed(JSON.stringify({ inputs: ['inbox/a.jsonl'], job })), deps);
      expect(answer).toMatchObject({ status: 400, body: { field, error: expect.stringMatching(/^job\./) } });
    }
    expect(executions.byName.size).toBe(0);
  });

  it('gives the first answer again for a repeated Idempotency-Key', async () => {
    const request = signed('{"inputs":["inbox/c.jsonl"]}', { 'idempotency-key': 'order-42' });
    const first = await handleWebhook(request, deps);
    const second = await handleWebhook(request, deps);
    expect(second).toEqual(first);
    expect(executions.byName.size).toBe(1);
  });
});
