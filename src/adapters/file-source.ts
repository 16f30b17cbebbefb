import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A file's bytes as a stream of chunks read into two buffers in turn, so reading leaves no garbage
 * behind and the process stays small on large inputs. A chunk stays valid while the next one is read,
 * and is overwritten when the one after is asked for: whatever is kept longer must be copied (every
 * reader in the engine copies what it keeps). Reads are synchronous, like the file sink's writes.
 */
export async function* readFileChunks(path: string, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafeSlow(chunkBytes), Buffer.allocUnsafeSlow(chunkBytes)];
    for (let turn = 0; ; turn++) {
      const buffer = buffers[turn & 1] as Buffer;
      const bytesRead = readSync(fd, buffer, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    closeSync(fd);
  }
}
