import { Worker } from 'node:worker_threads';
import type { TfsMethod } from '../../core/tfs/codec.ts';
import { ModelLoadError } from '../errors.ts';
import type { BodyKind } from './invocation.ts';
import type { Signature } from './tfs.ts';

/** What a worker is sent: a request body, moved to it, with how to read it and the servable it is for. */
export interface Job {
  readonly id: number;
  /** The index of the model version in the files the pool was started on. */
  readonly servable: number;
  readonly kind: BodyKind;
  readonly method: TfsMethod;
  readonly body: Uint8Array;
}

/** A worker's answer: the HTTP status and the JSON body. */
export interface Answer {
  readonly status: number;
  readonly body: Uint8Array;
}

export interface Reply extends Answer {
  readonly id: number;
}

/** Tells a worker to leave once the job it is running is done, starting none of those queued. */
export interface Stop {
  readonly stop: true;
}

/** A worker's first message, once its sessions are loaded: each servable's signature. */
export interface Ready {
  readonly signatures: readonly Signature[];
}

interface Pending {
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  alive: boolean;
  failure?: unknown;
}

/**
 * Worker threads, each with its own onnxruntime session of every servable, so inference never blocks
 * the HTTP thread. A job goes to the worker with the fewest jobs in hand; each worker runs its jobs in turn.
 */
export class InferencePool {
  /** Each servable's signature, in the order of the files given. */
  readonly signatures: readonly Signature[];
  private readonly slots: Slot[];
  private nextId = 0;

  private constructor(workers: readonly Worker[], signatures: readonly Signature[]) {
    this.signatures = signatures;
    this.slots = workers.map((worker) => {
      const slot: Slot = { worker, pending: new Map(), alive: true };
      worker.on('message', ({ id, status, body }: Reply) => {
        const waiting = slot.pending.get(id);
        slot.pending.delete(id);
        waiting?.resolve({ status, body });
      });
      worker.on('error', (error) => {
        slot.failure = error;
      });
      worker.on('exit', (code) => {
        slot.alive = false;
        const error = slot.failure ?? new Error(`model worker stopped with exit code ${code}`);
        for (const waiting of slot.pending.values()) waiting.reject(error);
        slot.pending.clear();
      });
      return slot;
    });
  }

  /** Starts `size` workers on the model files and waits until each has loaded them. */
  static async start(files: readonly string[], size: number): Promise<InferencePool> {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a model server needs a whole number of workers, at least 1, not ${size}`);
    }
    disableOnnxRuntimeTelemetry();
    const spawn = () => new Worker(new URL('./worker.ts', import.meta.url), { workerData: { files } });
    const first = spawn();
    const others = Array.from({ length: size - 1 }, spawn);
    const workers = [first, ...others];
    const loads = [loaded(first), ...others.map(loaded)] as const;
    try {
      const [signatures] = await Promise.all(loads);
      return new InferencePool(workers, signatures);
    } catch (error) {
      // The others may still be loading: they are stopped once they are done, never in the middle.
      await Promise.allSettled(loads);
      await Promise.all(workers.map(stop));
      const reason = error instanceof Error ? error.message : String(error);
      throw new ModelLoadError(`${files.join(', ')} cannot be served: ${reason}`, { cause: error });
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Runs one request on the least busy worker. The body's buffer is moved there, so it is unusable after. */
  run(servable: number, kind: BodyKind, method: TfsMethod, body: Uint8Array): Promise<Answer> {
    let slot: Slot | undefined;
    for (const candidate of this.slots) {
      if (candidate.alive && (slot === undefined || candidate.pending.size < slot.pending.size)) {
        slot = candidate;
      }
    }
    if (slot === undefined) return Promise.reject(new Error('no model worker is running'));
    const id = this.nextId++;
    const { pending, worker } = slot;
    const answer = new Promise<Answer>((resolve, reject) => pending.set(id, { resolve, reject }));
    const job: Job = { id, servable, kind, method, body };
    worker.postMessage(job, [body.buffer as ArrayBuffer]);
    return answer;
  }

  /**
   * Stops every worker once the job it is running is done; the jobs still queued are refused. A worker
   * is never terminated in the middle of onnxruntime: its native code, cut short, takes the whole
   * process down.
   */
  async close(): Promise<void> {
    await Promise.all(this.slots.map(({ worker }) => stop(worker)));
  }
}

/**
 * Pools started ahead of the server that will use them, so that loading the model overlaps the work
 * before scoring. A server takes the pool started on the same files with as many workers; the pools
 * no server took are stopped on close.
 */
export class WarmPools {
  readonly #pools = new Map<string, Promise<InferencePool>>();
  #closed = false;

  /** Starts a pool on the files unless one is already warm for them; none once closed. */
  warm(files: readonly string[], size: number): void {
    const key = poolKey(files, size);
    if (this.#closed || this.#pools.has(key)) return;
    const pool = InferencePool.start(files, size);
    // A pool that fails to start fails the server that takes it; one never taken is forgotten.
    pool.catch(() => undefined);
    this.#pools.set(key, pool);
  }

  /** The warm pool for these files and workers, which is then the caller's to close; else undefined. */
  take(files: readonly string[], size: number): Promise<InferencePool> | undefined {
    const key = poolKey(files, size);
    const pool = this.#pools.get(key);
    this.#pools.delete(key);
    return pool;
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Stops the pools no server took; no pool is warmed after. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    for (const outcome of await Promise.allSettled(pools)) {
      if (outcome.status === 'fulfilled') await outcome.value.close();
    }
  }
}

function poolKey(files: readonly string[], size: number): string {
  return JSON.stringify([files, size]);
}

/**
 * onnxruntime-node 1.30 starts Microsoft telemetry when its environment is created: it reads
 * /proc/self/cmdline and walks it with recursive native code, which overflows a worker thread's 4 MB
 * stack once the command line passes 10 to 15 KB (`pipeline run` over 600 to 1,000 file names) and
 * kills the whole process with a segmentation fault. It would also try to upload what it gathers. The
 * variable is read by the native code, so it has to be in the process's own environment, which only the
 * main thread's `process.env` writes to, before the first worker loads onnxruntime.
 */
function disableOnnxRuntimeTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
}

/** Asks a worker to leave and waits until it has; a worker that has already left is left alone. */
function stop(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return Promise.resolve();
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    const message: Stop = { stop: true };
    worker.postMessage(message);
  });
}

function loaded(worker: Worker): Promise<readonly Signature[]> {
  return new Promise((resolve, reject) => {
    worker.once('message', ({ signatures }: Ready) => resolve(signatures));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`model worker stopped with exit code ${code}`)));
  });
}
