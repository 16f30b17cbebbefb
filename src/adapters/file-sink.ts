import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ByteSink } from '../core/io.ts';

/**
 * A file written under a temporary name and renamed into place on close, so a reader never sees half
 * a file and a step run again replaces its output whole.
 */
export async function openFileSink(path: string): Promise<ByteSink> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.partial`;
  const handle = await open(temporary, 'w');
  let closed = false;
  return {
    async write(chunk) {
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
        written += bytesWritten;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await handle.close();
        await rename(temporary, path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
  };
}
