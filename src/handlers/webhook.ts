import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { handleWebhook, type WebhookDependencies } from '../core/triggers/webhook.ts';
import { lambdaHandler } from './lambda.ts';

// An HTTP API (payload format 2.0) request: only what the webhook reads is checked.
const httpEvent = z.object({
  headers: z._default(z.record(z.string(), z.string()), {}),
  body: z._default(z.string(), ''),
  isBase64Encoded: z._default(z.boolean(), false),
});

export const createWebhookHandler = (dependencies: () => Omit<WebhookDependencies, 'now'>) =>
  lambdaHandler(httpEvent, async (event): Promise<APIGatewayProxyResultV2> => {
    const headers = Object.fromEntries(
      Object.entries(event.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const body = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const response = await handleWebhook({ headers, body }, { ...dependencies(), now: Date.now });
    return {
      statusCode: response.status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(response.body),
    };
  });
