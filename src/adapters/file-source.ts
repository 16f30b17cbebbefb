import { close, open, read } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ByteRange, InputFile } from '../core/io.ts';

/** How much one read of a file takes at most. */
export const READ_CHUNK_BYTES = 1 << 20;

/**
 * A file's bytes as a stream of chunks, read one chunk ahead in the I/O thread pool, so the disk works
 * while the caller handles the chunk before: on two cores that overlap is most of the speed. Chunks
 * go round three buffers, so reading leaves no garbage behind and the process stays small on large
 * inputs. A chunk stays valid while the next one is read, and is overwritten when the one after is
 * asked for: whatever is kept longer must be copied (every reader in the engine copies what it keeps).
 * With a `range`, only its bytes are read (an end past the file's reads to its end).
 */
export async function* readFileChunks(
  path: string,
  chunkBytes = READ_CHUNK_BYTES,
  range?: ByteRange,
): AsyncGenerator<Buffer> {
  const fd = await new Promise<number>((resolve, reject) =>
    open(path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  let position = range?.start ?? 0;
  const end = range?.end ?? Number.POSITIVE_INFINITY;
  const size = Math.max(1, Math.min(chunkBytes, end - position));
  const buffers = [0, 1, 2].map(() => Buffer.allocUnsafeSlow(size));
  const readInto = (buffer: Buffer) => {
    const length = Math.max(0, Math.min(size, end - position));
    const at = position;
    position += length;
    return new Promise<number>((resolve, reject) =>
      length === 0
        ? resolve(0)
        : read(fd, buffer, 0, length, at, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
    );
  };
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

/** A file as an input to read, whole or in ranges. */
export async function fileInput(path: string): Promise<InputFile> {
  const { size } = await stat(path);
  return { size, read: (range) => readFileChunks(path, undefined, range) };
}
