import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { z } from 'zod';
import { lambdaHandler } from '../src/adapters/lambda.ts';
import { type TriggerDependencies, triggerDependencies } from '../src/adapters/triggers.ts';
import { handleWebhook } from '../src/core/triggers/webhook.ts';

// An HTTP API (payload format 2.0) request: only what the webhook reads is checked.
const httpEvent = z.object({
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().default(''),
  isBase64Encoded: z.boolean().default(false),
});

let secret: Promise<string> | undefined;

/**
 * The shared secret, from SSM Parameter Store (SecureString), read once per cold start and never
 * logged; locally, from PIPELINE_WEBHOOK_SECRET.
 */
function webhookSecret(): Promise<string> {
  const local = process.env.PIPELINE_WEBHOOK_SECRET;
  if (local) return Promise.resolve(local);
  const name = process.env.WEBHOOK_SECRET_PARAMETER;
  if (!name) throw new Error('environment variable WEBHOOK_SECRET_PARAMETER is not set');
  secret ??= new SSMClient({})
    .send(new GetParameterCommand({ Name: name, WithDecryption: true }))
    .then((response) => response.Parameter?.Value ?? '')
    .then((value) => {
      if (!value) throw new Error(`parameter ${name} is empty`);
      return value;
    });
  secret.catch(() => {
    secret = undefined;
  });
  return secret;
}

/** The handler over the given dependencies and secret: AWS's when deployed, the local stack's in local mode. */
export const createWebhookHandler = (
  dependencies: () => TriggerDependencies,
  secret: () => Promise<string>,
) =>
  lambdaHandler(httpEvent, async (event): Promise<APIGatewayProxyResultV2> => {
    const headers = Object.fromEntries(
      Object.entries(event.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const body = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const { store, executions, bucket } = dependencies();
    const response = await handleWebhook(
      { headers, body },
      { secret, executions, store, bucket, now: Date.now },
    );
    return {
      statusCode: response.status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(response.body),
    };
  });

export const handler = createWebhookHandler(() => triggerDependencies(), webhookSecret);
