import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRecordIoReader } from '../../../src/core/records/recordio.ts';
import { createTfRecordReader } from '../../../src/core/records/tfrecord.ts';
import type { ReaderFactory } from '../../../src/core/records/types.ts';
import type { ModelContainer, ModelHost, ModelServer } from '../../../src/local/sagemaker/model-host-port.ts';

export interface Invocation {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
}

export interface Reply {
  readonly status: number;
  readonly body: string;
}

/** How the containers a FakeModelHost starts behave; by default they echo every record. */
export interface Behaviour {
  /** What the nth POST /invocations (0-based, across containers) gets instead of the echo, or no answer. */
  override?: (n: number, invocation: Invocation) => Reply | 'hang' | undefined;
  /** Milliseconds before the nth POST is answered. */
  delayMs?: (n: number) => number;
  /** POSTs are answered only once this settles. */
  until?: Promise<void>;
  /** The answer to GET /execution-parameters; 404 without one. */
  executionParameters?: Record<string, unknown>;
  /** End each echo with a newline, as some containers do. */
  trailingNewline?: boolean;
  /** Called as each POST arrives. */
  onInvocation?: (n: number) => void;
}

const framings: Record<string, ReaderFactory> = {
  'application/x-tfrecord': createTfRecordReader,
  'application/x-recordio': createRecordIoReader,
};

/**
 * The records of a request as the container reads them: lines, or TFRecord / RecordIO records by the
 * content type. A record that does not frame properly makes the request a 400.
 */
export function recordsOf(invocation: Invocation): string[] | undefined {
  const factory = framings[invocation.contentType ?? ''];
  if (!factory) {
    return invocation.body
      .toString('utf8')
      .split('\n')
      .map((line) => line.replace(/\r$/, ''))
      .filter((line) => line.length > 0);
  }
  const records: string[] = [];
  let bad = false;
  const reader = factory(
    {
      onRecord: (data) => records.push(data.toString('utf8')),
      onBadRecord: () => {
        bad = true;
      },
      onSkipped: () => undefined,
    },
    { input: 'request', maxRecordBytes: invocation.body.length },
  );
  reader.push(invocation.body);
  reader.end();
  return bad ? undefined : records;
}

/** A model container over a real socket: /ping, /execution-parameters and an echoing /invocations. */
export class FakeContainer {
  readonly url: string;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async listen(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<FakeContainer> {
    const server = createServer(handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FakeContainer(server);
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.#server.closeAllConnections();
    await closed;
  }
}

/** Starts a FakeContainer for every server asked for, and records what it was asked and sent. */
export class FakeModelHost implements ModelHost {
  behaviour: Behaviour = {};
  readonly started: { container: ModelContainer; server: FakeContainer }[] = [];
  readonly invocations: Invocation[] = [];
  /** Requests being answered now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** The numbers of the POSTs in the order they were answered. */
  readonly answered: number[] = [];

  async start(container: ModelContainer): Promise<ModelServer> {
    const server = await FakeContainer.listen((req, res) => this.#handle(req, res));
    this.started.push({ container, server });
    return { url: server.url, close: () => server.close() };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.started.map(({ server }) => server.close()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'GET' && req.url === '/ping') return void res.end();
    if (req.method === 'GET' && req.url === '/execution-parameters') {
      const parameters = this.behaviour.executionParameters;
      res.writeHead(parameters ? 200 : 404, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(parameters ?? { error: 'not found' }));
    }
    if (req.method !== 'POST' || req.url !== '/invocations') {
      res.writeHead(404);
      return void res.end();
    }
    const invocation: Invocation = {
      body: Buffer.concat(chunks),
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
    };
    const n = this.invocations.length;
    this.invocations.push(invocation);
    this.behaviour.onInvocation?.(n);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    const delay = this.behaviour.delayMs?.(n) ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    await this.behaviour.until;
    const reply = this.behaviour.override?.(n, invocation) ?? this.#echo(invocation);
    if (reply === 'hang') return;
    this.answered.push(n);
    res.writeHead(reply.status, { 'Content-Type': 'application/json' });
    res.end(reply.body);
  }

  #echo(invocation: Invocation): Reply {
    const records = recordsOf(invocation);
    if (!records) return { status: 400, body: '{"error": "bad framing"}' };
    const body = JSON.stringify({ predictions: records });
    return { status: 200, body: this.behaviour.trailingNewline ? `${body}\n` : body };
  }
}
