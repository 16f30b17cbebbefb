import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cron } from 'croner';
import { ConfigurationError } from '../core/errors.ts';
import { readText } from '../core/ports/object-store.ts';
import { INBOX } from '../core/steps/layout.ts';
import { readDatasets } from '../core/triggers/nightly.ts';
import { MAX_BODY_BYTES } from '../core/triggers/webhook.ts';
import { createIngestHandler } from '../handlers/ingest.ts';
import { createNightlyHandler } from '../handlers/nightly.ts';
import { createWebhookHandler } from '../handlers/webhook.ts';
import { listen } from './listen.ts';
import { LOCAL_BUCKET } from './model-host.ts';
import { type ExecutionOutcome, lambdaContext } from './runner.ts';
import { LocalStack } from './stack.ts';

export const NIGHTLY_CONFIG = 'config/nightly.json';
export const DEFAULT_SCHEDULE = '0 2 * * *';

export interface LocalServiceOptions {
  readonly dataDir: string;
  /** The webhook's port on `host` (0 picks a free one). */
  readonly port: number;
  readonly host?: string;
  readonly secret: string;
  readonly modelUrl?: string;
  /** How long an inbox file's size and time must stay the same before it counts as complete. */
  readonly settleMs?: number;
  /** How often the inbox and the execution queue are looked at. */
  readonly pollMs?: number;
  /** The wait before an inbox job is planned, for a sidecar copied just after its file. */
  readonly sidecarSeconds?: number;
  /** Executions run at once. */
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

export interface LocalService {
  /** The webhook's base URL: `POST <url>/runs`. */
  readonly url: string;
  readonly stack: LocalStack;
  /** The nightly schedule's next run, when one is configured. */
  readonly nextNightly: Date | undefined;
  /** Stops watching, serving and scheduling, and waits for the executions under way. */
  close(): Promise<void>;
}

/**
 * `pipeline up`: the local stack as a long-running service over a data dir. A file dropped into
 * `inbox/` is handed to the ingest handler once its size settles, as S3 would send its event; the
 * nightly schedule calls the nightly handler; `POST /runs` on localhost calls the webhook handler. Each
 * queues executions; a runner takes them from the queue and runs the state machine, a few at a time.
 */
export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const log = options.log ?? (() => undefined);
  const pollMs = options.pollMs ?? 500;
  const settleMs = options.settleMs ?? 1000;
  const concurrency = options.concurrency ?? 2;
  const stack = new LocalStack({
    dataDir: options.dataDir,
    modelBaseDir: options.dataDir,
    ...(options.modelUrl !== undefined && { modelUrl: options.modelUrl }),
  });
  const { store, executions } = stack;
  const ingest = createIngestHandler(() => ({ executions }));
  const nightly = createNightlyHandler(() => ({
    store,
    executions,
    datasets: async () => readDatasets((await nightlyConfig(stack)).datasets ?? [], NIGHTLY_CONFIG),
  }));
  const webhook = createWebhookHandler(() => ({
    store,
    executions,
    bucket: LOCAL_BUCKET,
    secret: async () => options.secret,
  }));

  let closing = false;
  const running = new Map<string, Promise<ExecutionOutcome>>();
  const seen = new Map<string, { etag: string; since: number; sent: boolean }>();

  async function watchInbox(): Promise<void> {
    const now = Date.now();
    const present = new Set<string>();
    const complete = [];
    for await (const object of stack.store.list(INBOX)) {
      present.add(object.key);
      const known = seen.get(object.key);
      if (!known || known.etag !== object.etag) {
        seen.set(object.key, { etag: object.etag, since: now, sent: false });
      } else if (!known.sent && now - known.since >= settleMs) {
        known.sent = true;
        complete.push(object);
      }
    }
    for (const key of seen.keys()) if (!present.has(key)) seen.delete(key);
    if (complete.length === 0) return;
    const result = await ingest(
      {
        Records: complete.map((object) => ({
          s3: {
            bucket: { name: LOCAL_BUCKET },
            object: { key: encodeEventKey(object.key), size: object.size, eTag: object.etag },
          },
        })),
      },
      lambdaContext('ingest'),
    );
    for (const { key } of result.started) log(`inbox: ${key} queued`);
  }

  async function runQueued(): Promise<void> {
    if (running.size >= concurrency) return;
    for (const execution of await stack.executions.list()) {
      if (closing || running.size >= concurrency) return;
      if (execution.status !== undefined || running.has(execution.name)) continue;
      const name = execution.name;
      log(`${name}: started`);
      const run = stack.execute(name, {
        waitTimeOverrides: { SettleUploads: (options.sidecarSeconds ?? 2) * 1000 },
      });
      running.set(name, run);
      run
        .then(async (outcome) => log(`${name}: ${await describeOutcome(stack, name, outcome)}`))
        .catch((error: Error) => log(`${name}: ${error.name}: ${error.message}`))
        .finally(() => running.delete(name));
    }
  }

  let ticking: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking
      .then(watchInbox)
      .then(runQueued)
      .catch((error: Error) => log(`error: ${error.message}`));
  }, pollMs);

  const config = await nightlyConfig(stack);
  const schedule = new Cron(
    config.schedule ?? DEFAULT_SCHEDULE,
    { timezone: 'UTC', protect: true },
    async () => {
      try {
        const result = await nightly({ time: new Date().toISOString() }, lambdaContext('nightly'));
        for (const started of result.started)
          log(`nightly: ${started.dataset} queued (${started.inputs} inputs)`);
        for (const skipped of result.skipped) log(`nightly: ${skipped.dataset} skipped: ${skipped.reason}`);
      } catch (error) {
        log(`nightly: ${(error as Error).message}`);
      }
    },
  );

  const server = createServer((request, response) => {
    const respond = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (request.url !== '/runs') return respond(404, { error: 'not found: the webhook is POST /runs' });
    if (request.method !== 'POST') return respond(405, { error: 'POST /runs only' });
    readCapped(request, MAX_BODY_BYTES + 1)
      .then((body) =>
        webhook(
          {
            version: '2.0',
            routeKey: 'POST /runs',
            rawPath: '/runs',
            headers: headersOf(request),
            body,
            isBase64Encoded: false,
          },
          lambdaContext('webhook'),
        ),
      )
      .then((result) => {
        const answer = typeof result === 'string' ? { statusCode: 200, body: result } : result;
        response
          .writeHead(answer.statusCode ?? 200, { 'content-type': 'application/json' })
          .end(answer.body ?? '');
      })
      .catch((error: Error) => {
        log(`webhook: ${error.name}: ${error.message}`);
        respond(500, { error: 'internal error' });
      });
  });
  await listen(server, options.port, options.host ?? '127.0.0.1');
  const address = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    stack,
    nextNightly: schedule.nextRun() ?? undefined,
    async close() {
      closing = true;
      clearInterval(timer);
      schedule.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await ticking;
      await Promise.allSettled(running.values());
      await stack.close();
    },
  };
}

/** `config/nightly.json`: `{"schedule": "<cron, UTC>", "datasets": [{"name", "prefix", "job"}]}`. */
async function nightlyConfig(stack: LocalStack): Promise<{ schedule?: string; datasets?: unknown }> {
  if (!(await stack.store.head(NIGHTLY_CONFIG))) return {};
  try {
    return JSON.parse(await readText(stack.store, NIGHTLY_CONFIG)) as {
      schedule?: string;
      datasets?: unknown;
    };
  } catch (error) {
    throw new ConfigurationError(`${NIGHTLY_CONFIG}: ${(error as Error).message}`, { cause: error });
  }
}

async function describeOutcome(stack: LocalStack, name: string, outcome: ExecutionOutcome): Promise<string> {
  const key = `results/${name}/_summary.json`;
  if (await stack.store.head(key)) {
    const summary = JSON.parse(await readText(stack.store, key)) as {
      status: string;
      records: { in: number; out: number; errors: number };
    };
    return `${summary.status}: ${summary.records.in} in, ${summary.records.out} scored, ${summary.records.errors} quarantined; results in results/${name}/`;
  }
  return outcome.status === 'FAILED'
    ? `Failed: ${outcome.error.name}: ${outcome.error.message}`
    : outcome.status;
}

/** S3 writes keys in its events URL-encoded, with '+' for a space; the ingest handler decodes them. */
function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

/**
 * The body, or its first `limit` bytes as soon as it is that long: an oversized body is refused without
 * being held whole (the rest is read and dropped).
 */
function readCapped(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk.subarray(0, limit - size));
      size = Math.min(limit, size + chunk.length);
      if (size < limit) return;
      request.off('data', onData);
      request.resume();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}
