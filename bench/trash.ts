/**
 * Where the benches put the thousands of files they are done with, instead of deleting them: ext4
 * without a journal (as on this machine) creates files many times slower for a while after many were
 * deleted. Its inode allocator passes over each inode freed less than a minute ago, six while that
 * inode's block of the inode table is dirty (`recently_deleted` in fs/ext4/ialloc.c), checking them
 * one by one: 5,000 files took 2-3.5 s to create instead of 0.12 s. `npm run bench` empties the
 * trash first and then writes what is dirty back (`sync`): the folder bench, which runs minutes
 * later, read 4.33 times its baseline after an emptying without it, 2.56-3.03 with it.
 * `node bench/trash.ts` empties it on its own.
 */
import { spawnSync } from 'node:child_process';
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  rmSync(trash, { recursive: true, force: true });
  spawnSync('sync', { stdio: 'inherit' });
}
