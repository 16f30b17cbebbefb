import { close, open, read } from 'node:fs';

/**
 * A file's bytes as a stream of chunks, read one chunk ahead in the I/O thread pool, so the disk works
 * while the caller handles the chunk before: on two cores that overlap is most of the speed. Chunks
 * go round three buffers, so reading leaves no garbage behind and the process stays small on large
 * inputs. A chunk stays valid while the next one is read, and is overwritten when the one after is
 * asked for: whatever is kept longer must be copied (every reader in the engine copies what it keeps).
 */
export async function* readFileChunks(path: string, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
  const fd = await new Promise<number>((resolve, reject) =>
    open(path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const buffers = [0, 1, 2].map(() => Buffer.allocUnsafeSlow(chunkBytes));
  const readInto = (buffer: Buffer) =>
    new Promise<number>((resolve, reject) =>
      read(fd, buffer, 0, chunkBytes, null, (error, bytesRead) =>
        error ? reject(error) : resolve(bytesRead),
      ),
    );
  let turn = 0;
  let ahead = readInto(buffers[0] as Buffer);
  try {
    for (;;) {
      const bytesRead = await ahead;
      if (bytesRead === 0) return;
      const chunk = (buffers[turn % 3] as Buffer).subarray(0, bytesRead);
      turn++;
      ahead = readInto(buffers[turn % 3] as Buffer);
      yield chunk;
    }
  } finally {
    await ahead.catch(() => 0);
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}
