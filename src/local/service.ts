import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import { wasInterrupted } from '../adapters/local-executions.ts';
import { acquireLock, type ProcessLock } from '../adapters/process-lock.ts';
import { ConfigurationError, LockHeldError } from '../core/errors.ts';
import { readText, type StoredObject } from '../core/ports/object-store.ts';
import { INBOX, summaryKey } from '../core/steps/layout.ts';
import { BATCH_MARKER, batchOf } from '../core/triggers/inbox.ts';
import { readDatasets } from '../core/triggers/nightly.ts';
import { MAX_BODY_BYTES } from '../core/triggers/webhook.ts';
import { createIngestHandler } from '../handlers/ingest.ts';
import { createNightlyHandler } from '../handlers/nightly.ts';
import { createWebhookHandler } from '../handlers/webhook.ts';
import { DataDirInUseError } from './errors.ts';
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
  /**
   * Stops watching, serving and scheduling, and waits for the executions under way: at most `graceMs`
   * (by default as long as they take). Those still running then are left to the next start, which runs
   * them again once this process has ended; their names are returned, and the data dir stays locked.
   */
  close(graceMs?: number): Promise<string[]>;
}

/**
 * `pipeline up`: the local stack as a long-running service over a data dir. A file dropped into
 * `inbox/` is handed to the ingest handler once its size settles, as S3 would send its event; the
 * nightly schedule calls the nightly handler; `POST /runs` on localhost calls the webhook handler. Each
 * queues executions; a runner takes them from the queue and runs the state machine, a few at a time.
 *
 * One service runs over a data dir (the lock `up.lock`; DataDirInUseError names the process that has
 * it). Executions a killed service left running are run again from the start, under the same name, as
 * Step Functions keeps an execution going when the machine that ran a step dies; files that arrived in
 * the inbox meanwhile are found as at any time.
 */
export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const lock = await lockDataDir(options.dataDir);
  try {
    return await serve(options, lock);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** The service over a data dir this process has locked; it starts taking work once all is set up. */
async function serve(options: LocalServiceOptions, lock: ProcessLock): Promise<LocalService> {
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
  // By name, the process each ran in.
  const interrupted = new Map(
    (await executions.list()).filter(wasInterrupted).map((execution) => [execution.name, execution.pid]),
  );
  if (interrupted.size > 0) {
    log(`resuming ${interrupted.size} interrupted job(s): ${[...interrupted.keys()].join(', ')}`);
  }
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
  // Executions this service runs, until their outcome is logged.
  const running = new Map<string, Promise<void>>();
  const seen = new Map<string, { etag: string; since: number; sent: boolean }>();

  /**
   * Hands each inbox file to the ingest handler once its size and time have stayed the same for
   * `settleMs`, as S3 sends an event once an upload is whole. A batch's marker waits, besides, until
   * every file of its batch has settled: a folder copied with `cp -r` may get its `_SUCCESS` first.
   */
  async function watchInbox(): Promise<void> {
    const now = Date.now();
    const present: StoredObject[] = [];
    // By batch folder, when a file of it last changed.
    const batchChanged = new Map<string, number>();
    for await (const object of stack.store.list(INBOX)) {
      present.push(object);
      let known = seen.get(object.key);
      if (!known || known.etag !== object.etag) {
        known = { etag: object.etag, since: now, sent: false };
        seen.set(object.key, known);
      }
      const batch = batchOf(object.key);
      if (batch !== undefined) batchChanged.set(batch, Math.max(batchChanged.get(batch) ?? 0, known.since));
    }
    const presentKeys = new Set(present.map((object) => object.key));
    for (const key of seen.keys()) if (!presentKeys.has(key)) seen.delete(key);
    const settled = (since: number) => now - since >= settleMs;
    const complete = present.filter((object) => {
      const known = seen.get(object.key);
      if (!known || known.sent || !settled(known.since)) return false;
      const batch = batchOf(object.key);
      const marksBatch = batch !== undefined && object.key === `${batch}${BATCH_MARKER}`;
      if (marksBatch && !settled(batchChanged.get(batch) ?? now)) return false;
      known.sent = true;
      return true;
    });
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
    // One line per reason: a batch's parts say once that they wait for its marker.
    const skippedFor = new Map<string, string[]>();
    for (const { key, reason } of result.skipped) {
      const keys = skippedFor.get(reason) ?? [];
      keys.push(key);
      skippedFor.set(reason, keys);
    }
    for (const [reason, keys] of skippedFor) {
      log(`inbox: skipped ${keys.length === 1 ? keys.join('') : `${keys.length} files`}: ${reason}`);
    }
  }

  async function runQueued(): Promise<void> {
    if (running.size >= concurrency) return;
    for (const execution of await stack.executions.list()) {
      if (closing || running.size >= concurrency) return;
      const name = execution.name;
      const resumed = interrupted.has(name);
      if ((execution.status !== undefined && !resumed) || running.has(name)) continue;
      const started = resumed
        ? `${name}: resumed from the start (process ${interrupted.get(name)} ended while running it)`
        : `${name}: started`;
      interrupted.delete(name);
      const run = stack
        .execute(name, {
          waitTimeOverrides: { SettleUploads: (options.sidecarSeconds ?? 2) * 1000 },
          onEvent: (event) => {
            if (event.type === 'ExecutionStarted') log(started);
            // The steps, one line each: Task and Map states, not the choices between them.
            if (event.type !== 'StateEntered' || event.index !== undefined) return;
            if (event.state.type === 'Task' || event.state.type === 'Map')
              log(`${name}: ${event.state.name}`);
          },
        })
        .then(async (outcome) => log(`${name}: ${await describeOutcome(stack, name, outcome)}`))
        .catch((error: Error) => log(`${name}: ${error.name}: ${error.message}`))
        .finally(() => running.delete(name));
      running.set(name, run);
    }
  }

  const config = await nightlyConfig(stack);
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

  let ticking: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking
      .then(watchInbox)
      .then(runQueued)
      .catch((error: Error) => log(`error: ${error.message}`));
  }, pollMs);

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    stack,
    nextNightly: schedule.nextRun() ?? undefined,
    async close(graceMs = Number.POSITIVE_INFINITY) {
      closing = true;
      clearInterval(timer);
      schedule.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await ticking;
      if (running.size > 0) {
        const seconds = Number.isFinite(graceMs) ? ` up to ${graceMs / 1000} s` : '';
        log(`stopping: waiting${seconds} for ${[...running.keys()].join(', ')}`);
        const ended = Promise.allSettled(running.values());
        await (Number.isFinite(graceMs)
          ? Promise.race([ended, sleep(graceMs, undefined, { ref: false })])
          : ended);
      }
      if (running.size > 0) {
        const left = await stack.leave();
        if (left.length > 0) {
          log(`left to resume on the next start: ${left.join(', ')}`);
          return left;
        }
      }
      await stack.close();
      await lock.release();
      return [];
    },
  };
}

async function lockDataDir(dataDir: string): Promise<ProcessLock> {
  await mkdir(dataDir, { recursive: true });
  try {
    return await acquireLock(join(dataDir, 'up.lock'));
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new DataDirInUseError(resolve(dataDir), error.holder, { cause: error });
  }
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
  const key = summaryKey(name);
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
