import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the container does with one POST /invocations. */
export type Answer =
  /** Doubles every number of every instance. */
  | 'ok'
  /** Never answers. */
  | 'hang'
  /** Answers as 'ok' does, once `after` has settled. */
  | { readonly after: Promise<unknown> }
  /** Drops every connection and stops listening, as a process that died would; it comes back shortly. */
  | 'crash'
  /** The same, and it never comes back. */
  | 'die'
  | { readonly status: number; readonly body: string }
  /** Answers these predictions in place of the right ones. */
  | { readonly predictions: (right: unknown[]) => unknown[] };

export interface Invocation {
  /** 0-based, in the order the requests arrived. */
  readonly n: number;
  readonly instances: unknown[];
  /** Set once the exchange has ended: whether an answer was sent. */
  answered?: boolean;
}

/**
 * A model container on a real socket that speaks the SageMaker contract (GET /ping, POST /invocations
 * with JSON Lines of instances or of `{"instances": [...]}`, answered as TFS does with
 * `{"predictions": [...]}`), its model doubling every number. `script` decides what each request gets.
 */
export class ScriptedContainer {
  script: (invocation: Invocation) => Answer = () => 'ok';
  readonly invocations: Invocation[] = [];
  inFlight = 0;
  maxInFlight = 0;
  crashes = 0;
  #port = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  static async start(): Promise<ScriptedContainer> {
    const container = new ScriptedContainer();
    await container.listen();
    return container;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Listens (again, after a crash) on the same port. */
  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Every connection is cut and nothing listens any more. */
  async crash(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.crashes++;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.crash();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'GET' && req.url === '/ping') return void res.end();
    if (req.method !== 'POST' || req.url !== '/invocations') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return void res.end('{"error": "not found"}');
    }
    let instances: unknown[];
    try {
      instances = Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .flatMap((line) => instancesOf(JSON.parse(line) as unknown));
    } catch (error) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ error: (error as Error).message }));
    }
    const invocation: Invocation = { n: this.invocations.length, instances };
    this.invocations.push(invocation);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => {
      this.inFlight--;
      invocation.answered = res.writableFinished;
    });
    const answer = this.script(invocation);
    if (answer === 'hang') return;
    if (answer === 'crash' || answer === 'die') {
      await this.crash();
      if (answer === 'crash') setTimeout(() => void this.listen(), 20);
      return;
    }
    if (typeof answer === 'object' && 'status' in answer) {
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      return void res.end(answer.body);
    }
    const right = instances.map(double);
    if (right.includes(undefined)) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return void res.end('{"error": "instances must be numbers"}');
    }
    if (typeof answer === 'object' && 'after' in answer) await answer.after;
    const predictions =
      typeof answer === 'object' && 'predictions' in answer ? answer.predictions(right) : right;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ predictions }));
  }
}

/** A JSON Lines line as TFS reads it: an instance, or `{"instances": [...]}`. */
function instancesOf(line: unknown): unknown[] {
  if (typeof line === 'object' && line !== null && 'instances' in line && Array.isArray(line.instances)) {
    return line.instances;
  }
  return [line];
}

/** The model: every number doubled; undefined for an instance that is not made of numbers. */
function double(instance: unknown): unknown {
  if (typeof instance === 'number') return 2 * instance;
  if (!Array.isArray(instance)) return undefined;
  const doubled = instance.map(double);
  return doubled.includes(undefined) ? undefined : doubled;
}
