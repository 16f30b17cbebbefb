import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import { JobSpecError } from '../errors.ts';
import { IN_ENGLISH } from '../messages.ts';
import type { Executions } from '../ports/executions.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { checkJobSource } from '../spec/compile.ts';
import { readJobRecord } from '../steps/job-record.ts';

/**
 * `POST /runs`, signed: `X-Pipeline-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
 * with `X-Pipeline-Timestamp` (unix seconds, at most 300 s away). The body reruns a past job
 * (`{"rerun": "<jobId>"}`) or starts one over given inputs (`{"inputs": [...], "job": {...}}`).
 */
export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface WebhookRequest {
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export interface WebhookResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface WebhookDependencies {
  readonly secret: () => Promise<string>;
  readonly executions: Executions;
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly now: () => number;
}

const requestBody = z.union([
  z.strictObject({ rerun: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,80}$/, 'a job id')) }),
  z.strictObject({
    inputs: z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(1000)),
    job: z.optional(z.record(z.string(), z.unknown())),
  }),
]);

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function handleWebhook(
  request: WebhookRequest,
  deps: WebhookDependencies,
): Promise<WebhookResponse> {
  if (Buffer.byteLength(request.body) > MAX_BODY_BYTES) {
    return { status: 413, body: { error: `the body is over ${MAX_BODY_BYTES} bytes` } };
  }
  const refusal = await checkSignature(request, deps);
  if (refusal) return { status: 401, body: { error: refusal } };

  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body);
  } catch {
    return { status: 400, body: { error: 'the body is not JSON' } };
  }
  const body = requestBody.safeParse(parsed, IN_ENGLISH);
  if (!body.success) {
    const issue = body.error.issues[0];
    const field = issue?.path.join('.') || (issue?.code === 'invalid_union' ? 'rerun or inputs' : '(body)');
    return { status: 400, body: { error: `${field}: ${issue?.message ?? 'invalid'}`, field } };
  }

  const key = request.headers['idempotency-key'];
  const name = key
    ? `webhook-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`
    : `webhook-${randomUUID()}`;
  let input: Record<string, unknown>;
  if ('rerun' in body.data) {
    const record = await readJobRecord(deps.store, body.data.rerun);
    if (!record) return { status: 404, body: { error: `no job ${body.data.rerun} to rerun` } };
    input = { inputs: record.inputs, job: record.job, rerunOf: record.jobId };
  } else {
    const inputs = body.data.inputs.map((input) => toKey(input, deps.bucket));
    if (inputs.some((key) => key === undefined)) {
      return {
        status: 400,
        body: { error: `inputs: every input must be in s3://${deps.bucket}/`, field: 'inputs' },
      };
    }
    if (inputs.some((key) => key !== undefined && !plainKey(key))) {
      const error = 'inputs: a key may not start with /, have . or .. parts, or hold a backslash';
      return { status: 400, body: { error, field: 'inputs' } };
    }
    const refusal = body.data.job && jobRefusal(body.data.job);
    if (refusal) return { status: 400, body: refusal };
    input = { inputs, ...(body.data.job && { job: body.data.job }) };
  }
  const { executionArn } = await deps.executions.start(name, input);
  return { status: 202, body: { jobId: name, executionArn } };
}

async function checkSignature(
  request: WebhookRequest,
  deps: WebhookDependencies,
): Promise<string | undefined> {
  const timestamp = request.headers['x-pipeline-timestamp'];
  const signature = request.headers['x-pipeline-signature'];
  if (!timestamp || !signature) return 'the request is not signed';
  const seconds = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(deps.now() / 1000 - seconds) > MAX_CLOCK_SKEW_SECONDS) {
    return 'the timestamp is more than 300 s away';
  }
  const expected = Buffer.from(sign(await deps.secret(), timestamp, request.body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'the signature does not match';
  return undefined;
}

/**
 * Why the body's job spec is refused, naming the field, or undefined. The fields it holds are checked
 * here; what depends on the other sources (the bucket's default spec, a sidecar) is checked by Plan.
 */
function jobRefusal(job: Record<string, unknown>): { error: string; field: string } | undefined {
  try {
    checkJobSource(job);
    return undefined;
  } catch (error) {
    if (!(error instanceof JobSpecError)) throw error;
    return { error: `job.${error.message}`, field: `job.${error.field}` };
  }
}

/** `s3://<bucket>/<key>` or a bare key, as a key of this bucket; undefined for another bucket. */
function toKey(input: string, bucket: string): string | undefined {
  if (!input.startsWith('s3://')) return input;
  const prefix = `s3://${bucket}/`;
  return input.startsWith(prefix) && input.length > prefix.length ? input.slice(prefix.length) : undefined;
}

/** A key that names the same object everywhere: no `.` or `..` parts, no leading '/', no '\\' or NUL. */
function plainKey(key: string): boolean {
  return (
    !key.startsWith('/') &&
    !/[\\\0]/.test(key) &&
    key.split('/').every((part) => part !== '.' && part !== '..')
  );
}
