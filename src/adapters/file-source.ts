import { open } from 'node:fs/promises';

/**
 * A file's bytes as a stream of chunks read into two reused buffers: a chunk is only valid until the
 * next one is asked for (every reader in the engine copies what it keeps), and reading leaves no
 * garbage behind, which keeps the process small on large inputs.
 */
export async function* readFileChunks(path: string, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafeSlow(chunkBytes), Buffer.allocUnsafeSlow(chunkBytes)];
    for (let turn = 0; ; turn++) {
      const buffer = buffers[turn & 1] as Buffer;
      const { bytesRead } = await handle.read(buffer, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
