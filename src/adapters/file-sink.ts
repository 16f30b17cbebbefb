import { closeSync, open, write } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageFullError } from '../core/errors.ts';
import type { ByteSink } from '../core/io.ts';

/**
 * A file written under a temporary name (`<path>.<pid>.<time>.partial`) and renamed into place on
 * close, so a reader never sees half a file and a step run again replaces its output whole; an aborted
 * sink leaves nothing. Writes go to the I/O thread pool, each at the offset it was given when called,
 * so a caller that fills one buffer while the other is being written keeps both cores busy (the merge
 * does), and writes issued without waiting still land in order.
 */
export async function openFileSink(path: string): Promise<ByteSink> {
  const temporary = `${path}.${process.pid}.${Date.now()}.partial`;
  let fd: number;
  try {
    await mkdir(dirname(path), { recursive: true });
    // Opened on the I/O thread pool: creating a file can take milliseconds, and many small outputs are
    // opened side by side.
    fd = await new Promise<number>((resolve, reject) =>
      open(temporary, 'w', (error, opened) => (error ? reject(error) : resolve(opened))),
    );
  } catch (error) {
    throw asStorageError(error, path);
  }
  let offset = 0;
  let closed = false;
  // Writes under way, and the first that failed: close reports it even if its caller did not wait.
  const writing = new Set<Promise<void>>();
  let failed: { reason: unknown } | undefined;
  const settled = () => Promise.allSettled(writing);
  return {
    write(chunk) {
      if (closed) return Promise.reject(new Error(`${path}: written after it was closed`));
      const done = writeAt(fd, path, chunk, offset);
      offset += chunk.length;
      writing.add(done);
      done.then(
        () => writing.delete(done),
        (reason: unknown) => {
          writing.delete(done);
          failed ??= { reason };
        },
      );
      return done;
    },
    async close() {
      if (closed) return;
      closed = true;
      await settled();
      closeSync(fd);
      try {
        if (failed) throw failed.reason;
        await rename(temporary, path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw asStorageError(error, path);
      }
    },
    async abort() {
      if (closed) return;
      closed = true;
      await settled();
      closeSync(fd);
      await rm(temporary, { force: true });
    },
  };
}

/** Writes all of `chunk` at `position`, however many calls it takes. */
function writeAt(fd: number, path: string, chunk: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (written: number): void => {
      if (written === chunk.length) {
        resolve();
        return;
      }
      write(fd, chunk, written, chunk.length - written, position + written, (error, count) =>
        error ? reject(asStorageError(error, path)) : from(written + count),
      );
    };
    from(0);
  });
}

/** A full disk or quota as StorageFullError, which says so and names the file; other errors as they are. */
function asStorageError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
  const reason = code === 'ENOSPC' ? 'no space left on device' : 'disk quota exceeded';
  return new StorageFullError(`${reason} (${code}) writing ${path}`, { cause: error });
}

/**
 * The process writing a temporary file, from its name (`<name>.<pid>[.<time>].partial`, as written
 * here and by the local execution queue); undefined for any other file.
 */
export function temporaryWriter(fileName: string): number | undefined {
  const match = /\.(\d+)(?:\.\d+)?\.partial$/.exec(fileName);
  return match ? Number(match[1]) : undefined;
}
