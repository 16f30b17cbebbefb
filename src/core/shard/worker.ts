import { parentPort, workerData } from 'node:worker_threads';
import { BufferPool, createBlockEncoder, type RecordBlock } from './block.ts';
import type { ShardWorkerData } from './pool.ts';

/**
 * Worker thread: encodes the blocks it is sent, one at a time. The block's buffer and its index go
 * back with the result for reuse, and encoded buffers already written come back as spares.
 */
interface Job {
  readonly id: number;
  readonly block: RecordBlock;
  readonly spares: ArrayBuffer[];
}

const port = parentPort;
if (!port) throw new Error('shard worker: must run in a worker thread');
const { settings, bufferBytes } = workerData as ShardWorkerData;
const outputPool = new BufferPool(bufferBytes);
const encode = await createBlockEncoder(settings, outputPool);

port.on('message', ({ id, block, spares }: Job) => {
  for (const spare of spares) outputPool.give(spare);
  const input = block.data.buffer as ArrayBuffer;
  const index = block.ends.buffer as ArrayBuffer;
  try {
    const result = encode(block);
    port.postMessage({ id, result, input }, [result.encoded.buffer as ArrayBuffer, input, index]);
  } catch (error) {
    port.postMessage({ id, error, input }, [input, index]);
  }
});
