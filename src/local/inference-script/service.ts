/**
 * A model's code/inference.py, served as the SageMaker TFS container serves it (python_service.py
 * behind gunicorn): long-lived python3 worker processes, each running one request at a time, that
 * load the script once. What input_handler returns is sent back here over the worker's pipe and
 * answered by the model server's TFS REST API, cheaper than the socket the container uses, and handed
 * to output_handler as a requests.Response.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceScriptError } from '../errors.ts';
import { findPython } from './python.ts';
import { installRequirements } from './requirements.ts';

const WORKER = fileURLToPath(new URL('./worker.py', import.meta.url));

/** The container's Context, less the gRPC channel, which has no place here. */
export interface ScriptContext {
  readonly model_name: string | null;
  readonly model_version: string | null;
  readonly method: string | null;
  readonly rest_uri: string;
  readonly grpc_port: string | null;
  readonly custom_attributes: string | null;
  readonly request_content_type: string;
  readonly accept_header: string;
  readonly content_length: number | null;
}

export interface ScriptAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** A POST to the model server's TFS REST API, as input_handler's result is sent. */
export type ModelCall = (
  uri: string,
  body: Uint8Array,
) => Promise<{ status: number; headers: Record<string, string>; body: Uint8Array }>;

export interface InferenceScriptOptions {
  /** The model's code/ folder, holding inference.py. */
  readonly codeDir: string;
  readonly workers: number;
  /** The environment the scripts see (the model's, as the container's is). */
  readonly environment: NodeJS.ProcessEnv;
  readonly callModel: ModelCall;
  /** Where the scripts' output and the service's notes go. */
  readonly log: (line: string) => void;
}

/** gunicorn's worker timeout in the container, unless SAGEMAKER_GUNICORN_TIMEOUT_SECONDS sets another. */
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** How long one request may take before its worker is stopped, from the environment the container reads. */
export function requestTimeoutSeconds(environment: NodeJS.ProcessEnv): number {
  const value = environment.SAGEMAKER_GUNICORN_TIMEOUT_SECONDS;
  if (value === undefined || value === '') return DEFAULT_TIMEOUT_SECONDS;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new InferenceScriptError(
      `SAGEMAKER_GUNICORN_TIMEOUT_SECONDS is ${JSON.stringify(value)}: it must be a whole number of seconds above 0`,
    );
  }
  return seconds;
}

interface Frame {
  readonly meta: Record<string, unknown>;
  readonly body: Uint8Array;
}

interface Waiting {
  readonly context: ScriptContext;
  readonly body: Uint8Array;
  readonly resolve: (answer: ScriptAnswer) => void;
}

export class InferenceScript {
  private readonly options: InferenceScriptOptions;
  private readonly command: { executable: string; args: string[]; env: NodeJS.ProcessEnv };
  private readonly timeoutSeconds: number;
  private readonly idle: ScriptWorker[] = [];
  private readonly all = new Set<ScriptWorker>();
  private readonly queue: Waiting[] = [];
  private closed = false;

  private constructor(options: InferenceScriptOptions, command: InferenceScript['command']) {
    this.options = options;
    this.command = command;
    this.timeoutSeconds = requestTimeoutSeconds(options.environment);
  }

  /**
   * Finds python3, installs code/requirements.txt when needed, and starts the workers; resolves once
   * each has loaded the script, or rejects saying why the script cannot serve.
   */
  static async start(options: InferenceScriptOptions): Promise<InferenceScript> {
    const { codeDir, environment, log } = options;
    requestTimeoutSeconds(environment);
    const python = await findPython(environment);
    const installed = await installRequirements({ python, codeDir, environment, log });
    const paths = [join(codeDir, 'lib'), codeDir, ...(installed ? [installed] : [])];
    const env = { ...environment, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const script = new InferenceScript(options, {
      executable: python.executable,
      args: [WORKER, join(codeDir, 'inference.py'), ...paths],
      env,
    });
    try {
      await Promise.all(Array.from({ length: options.workers }, () => script.spawnWorker()));
    } catch (error) {
      await script.close();
      throw error;
    }
    return script;
  }

  /** Runs the script on one request, once a worker is free. */
  invoke(context: ScriptContext, body: Uint8Array): Promise<ScriptAnswer> {
    return new Promise((resolve) => {
      this.queue.push({ context, body, resolve });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiting of this.queue.splice(0)) waiting.resolve(unavailable('the model server is stopping'));
    await Promise.all([...this.all].map((worker) => worker.stop()));
  }

  private async spawnWorker(): Promise<void> {
    const { executable, args, env } = this.command;
    const worker = new ScriptWorker(
      spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] }),
      this.options,
    );
    this.all.add(worker);
    worker.exited.then(() => {
      this.all.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      // A worker that dies (the script exited, say) is replaced, as gunicorn replaces its workers.
      if (!this.closed && worker.started) {
        this.spawnWorker().catch((error: unknown) =>
          this.options.log(`a worker could not be restarted: ${String(error)}`),
        );
      }
    });
    await worker.ready;
    this.idle.push(worker);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.shift();
      const waiting = this.queue.shift();
      if (!worker || !waiting) return;
      worker.run(waiting.context, waiting.body, this.timeoutSeconds).then((answer) => {
        waiting.resolve(answer);
        if (worker.alive) {
          this.idle.push(worker);
          this.dispatch();
        }
      });
    }
  }
}

/** One python3 process running worker.py, and the frames it exchanges on fds 3 and 4. */
class ScriptWorker {
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  started = false;
  private readonly child: ChildProcess;
  private readonly options: InferenceScriptOptions;
  private frames: ((frame: Frame | undefined) => void)[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private received: Frame[] = [];
  private ended = false;
  private timedOut = false;

  constructor(child: ChildProcess, options: InferenceScriptOptions) {
    this.child = child;
    this.options = options;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      let partial = '';
      stream?.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) options.log(line);
      });
    }
    const answers = child.stdio[4] as NodeJS.ReadableStream;
    answers.on('data', (chunk: Buffer) => this.receive(chunk));
    // A worker that died mid-request is reported by its exit; writing to its pipe must not crash the server.
    (child.stdio[3] as NodeJS.WritableStream).on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('close', () => {
        this.ended = true;
        for (const waiter of this.frames.splice(0)) waiter(undefined);
        resolve();
      });
      child.once('error', () => undefined);
    });
    const spawnFailure = new Promise<never>((_, reject) =>
      child.once('error', (error) =>
        reject(new InferenceScriptError(`python3 cannot be started: ${error.message}`, { cause: error })),
      ),
    );
    this.ready = Promise.race([this.nextFrame(), spawnFailure]).then((frame) => {
      if (frame?.meta.ready === true) {
        this.started = true;
        return;
      }
      const why =
        typeof frame?.meta.failed === 'string' ? frame.meta.failed : 'the worker stopped while loading it';
      throw new InferenceScriptError(
        `${join(options.codeDir, 'inference.py')} cannot serve: ${why}${
          why.includes('Handlers are not implemented correctly')
            ? ' (define handler(data, context), or both input_handler(data, context) and output_handler(response, context))'
            : ''
        }`,
      );
    });
  }

  get alive(): boolean {
    return !this.ended;
  }

  /**
   * Runs one request to its answer, serving the script's calls to the model server on the way. A request
   * that takes longer than `timeoutSeconds` has its worker killed, as gunicorn kills a silent worker, so
   * a hung script costs one answer and not a worker for good; the pool starts a new one.
   */
  async run(context: ScriptContext, body: Uint8Array, timeoutSeconds: number): Promise<ScriptAnswer> {
    const timer = setTimeout(() => {
      this.timedOut = true;
      this.child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    try {
      this.send({ context }, body);
      for (;;) {
        const frame = await this.nextFrame();
        if (frame === undefined && this.timedOut) {
          return unavailable(
            `inference.py took longer than ${timeoutSeconds} s (SAGEMAKER_GUNICORN_TIMEOUT_SECONDS) and its worker was stopped`,
          );
        }
        if (frame === undefined)
          return unavailable('the inference.py worker stopped while answering (it exited or crashed)');
        const { meta } = frame;
        if (typeof meta.post === 'string') {
          const answer = await this.options.callModel(meta.post, frame.body);
          this.send({ status: answer.status, headers: answer.headers }, answer.body);
          continue;
        }
        return { status: Number(meta.status), contentType: String(meta.contentType), body: frame.body };
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the request pipe, which ends the worker's loop, and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.ended) (this.child.stdio[3] as NodeJS.WritableStream).end();
    const killed = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killed);
  }

  private send(meta: Record<string, unknown>, body: Uint8Array): void {
    const encoded = Buffer.from(JSON.stringify(meta));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(encoded.length, 0);
    head.writeUInt32BE(body.byteLength, 4);
    const pipe = this.child.stdio[3] as NodeJS.WritableStream;
    pipe.write(Buffer.concat([head, encoded, body]));
  }

  private nextFrame(): Promise<Frame | undefined> {
    const frame = this.received.shift();
    if (frame) return Promise.resolve(frame);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.frames.push(resolve));
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 8) {
      const metaSize = this.buffered.readUInt32BE(0);
      const bodySize = this.buffered.readUInt32BE(4);
      if (this.buffered.length < 8 + metaSize + bodySize) return;
      const meta = JSON.parse(this.buffered.toString('utf8', 8, 8 + metaSize)) as Record<string, unknown>;
      const body = this.buffered.subarray(8 + metaSize, 8 + metaSize + bodySize);
      this.buffered = this.buffered.subarray(8 + metaSize + bodySize);
      const frame = { meta, body };
      const waiter = this.frames.shift();
      if (waiter) waiter(frame);
      else this.received.push(frame);
    }
  }
}

/** What nginx answers in the container when the worker behind it is gone. */
function unavailable(reason: string): ScriptAnswer {
  return {
    status: 502,
    contentType: 'application/json',
    body: Buffer.from(JSON.stringify({ error: reason })),
  };
}
