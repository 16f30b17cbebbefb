import type { Worker } from 'node:worker_threads';
import {
  BufferPool,
  createBlockEncoder,
  type EncodedBlock,
  type EncodeSettings,
  type RecordBlock,
} from './block.ts';

/** What a shard worker thread is started with. */
export interface ShardWorkerData {
  readonly settings: EncodeSettings;
  readonly bufferBytes: number;
}

/**
 * Worker threads that encode blocks: how many, and how one is started on the encoder's script
 * (`worker.ts` beside this file). Given from outside, so this module does not locate its own files:
 * the Lambda bundle, which encodes inline, has no such file to locate.
 */
export interface ShardThreads {
  readonly count: number;
  start(data: ShardWorkerData): Worker;
}

/**
 * Encodes blocks, inline or spread over worker threads. A block's data buffer goes back to
 * `inputPool` once encoded; `release` hands back an encoded buffer once it has been written.
 */
export interface BlockEncoderPool {
  encode(block: RecordBlock): Promise<EncodedBlock>;
  release(encoded: ArrayBufferLike): void;
  close(): Promise<void>;
}

export function createBlockEncoderPool(
  settings: EncodeSettings,
  threads: ShardThreads | undefined,
  inputPool: BufferPool,
): BlockEncoderPool {
  if (!threads || threads.count <= 0) {
    const outputPool = new BufferPool(inputPool.size);
    const encoder = createBlockEncoder(settings, outputPool);
    return {
      encode: async (block) => {
        const result = (await encoder)(block);
        inputPool.give(block.data.buffer);
        return result;
      },
      release: (encoded) => outputPool.give(encoded),
      close: async () => {},
    };
  }
  return new WorkerPool(settings, threads, inputPool);
}

interface Pending {
  resolve(result: EncodedBlock): void;
  reject(error: unknown): void;
}

interface WorkerReply {
  readonly id: number;
  readonly result?: EncodedBlock;
  readonly input?: ArrayBuffer;
  readonly error?: unknown;
}

class WorkerPool implements BlockEncoderPool {
  private readonly workers: { worker: Worker; inFlight: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly spares: ArrayBuffer[] = [];
  private readonly inputPool: BufferPool;
  private nextId = 0;
  private failure: unknown;

  constructor(settings: EncodeSettings, threads: ShardThreads, inputPool: BufferPool) {
    this.inputPool = inputPool;
    for (let k = 0; k < threads.count; k++) {
      const worker = threads.start({ settings, bufferBytes: inputPool.size });
      const slot = { worker, inFlight: 0 };
      worker.on('message', (reply: WorkerReply) => {
        slot.inFlight--;
        if (reply.input) this.inputPool.give(reply.input);
        const waiting = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.result) waiting?.resolve(reply.result);
        else waiting?.reject(reply.error);
      });
      worker.on('error', (error) => this.fail(error));
      this.workers.push(slot);
    }
  }

  encode(block: RecordBlock): Promise<EncodedBlock> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.workers.reduce((least, next) => (next.inFlight < least.inFlight ? next : least));
    const id = this.nextId++;
    slot.inFlight++;
    const result = new Promise<EncodedBlock>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const spares = this.spares.splice(0);
    const moved = [block.data.buffer, block.ends.buffer, ...spares] as ArrayBuffer[];
    slot.worker.postMessage({ id, block, spares }, moved);
    return result;
  }

  release(encoded: ArrayBufferLike): void {
    if (
      encoded instanceof ArrayBuffer &&
      encoded.byteLength === this.inputPool.size &&
      this.spares.length < 4
    ) {
      this.spares.push(encoded);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private fail(error: unknown): void {
    this.failure = error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
