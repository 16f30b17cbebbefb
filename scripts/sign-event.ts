import { readFile } from 'node:fs/promises';
import { sign } from '../src/core/triggers/webhook.ts';

// `npm run -s sign-event -- events/http/post-runs.json`: the HTTP API event with a fresh timestamp and
// its signature under PIPELINE_WEBHOOK_SECRET, for `serverless invoke local -f webhook`.
const [path] = process.argv.slice(2);
const secret = process.env.PIPELINE_WEBHOOK_SECRET;
if (!path || !secret) {
  process.stderr.write('usage: PIPELINE_WEBHOOK_SECRET=... npm run -s sign-event -- <event.json>\n');
  process.exit(2);
}
const event = JSON.parse(await readFile(path, 'utf8')) as { headers: Record<string, string>; body: string };
const timestamp = String(Math.floor(Date.now() / 1000));
event.headers['x-pipeline-timestamp'] = timestamp;
event.headers['x-pipeline-signature'] = sign(secret, timestamp, event.body);
process.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
