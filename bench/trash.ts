/**
 * Where the benches put the thousands of files they are done with, instead of deleting them: ext4,
 * for a minute or more after many files were deleted, creates new ones several times slower (its inode
 * allocator checks the recently freed ones one by one: `recently_deleted` was the top kernel symbol
 * under `perf` while a run created its outputs just after such a clean-up), which would charge the
 * next measurement for the clean-up of the one before. `npm run bench` empties the trash first, and
 * `node bench/trash.ts` empties it on its own.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const trash = fileURLToPath(new URL('./.data/trash/', import.meta.url));
let discarded = 0;

/** Moves `path` into the trash; deletes it where it cannot be moved (another file system). */
export function discard(path: string): void {
  if (!existsSync(path)) return;
  mkdirSync(trash, { recursive: true });
  try {
    renameSync(path, join(trash, `${process.pid}-${Date.now()}-${discarded++}`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    rmSync(path, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) rmSync(trash, { recursive: true, force: true });
