/**
 * Where the benches put the thousands of files they are done with, instead of deleting them: ext4
 * without a journal (as on this machine) creates files many times slower for a while after many were
 * deleted. Its inode allocator skips each inode freed less than a minute ago, or less than six while
 * the inode's table block is not yet written back (`recently_deleted` in fs/ext4/ialloc.c), checking
 * them one by one: 5,000 files took 3.2 s to create instead of 0.13 s, and a folder run measured just
 * after a clean-up read 4.3 times its one-file baseline instead of 2.3. `npm run bench` empties the
 * trash first and writes the freed inodes back at once (`sync`), which shortens that window to the
 * minute that the benches before the ones creating thousands of files take anyway.
 * `node bench/trash.ts` empties it on its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const trash = fileURLToPath(new URL('./.data/trash/', import.meta.url));
let discarded = 0;
/** Files a probe creates, and the time each may take once the file system has settled (it is ~25 µs). */
const PROBE_FILES = 200;
const SETTLED_MICROSECONDS_PER_FILE = 150;
const PROBE_EVERY_SECONDS = 5;
const SETTLE_LIMIT_SECONDS = 120;

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

/**
 * Seconds waited before a measurement that creates thousands of files, for the files deleted just
 * before it (by the trial before, whose job deleted what it created) to stop slowing file creation:
 * what is dirty is written back (`sync`), then a probe creates PROBE_FILES files where `pipeline run`
 * makes its data dir every PROBE_EVERY_SECONDS until they take their usual time, at most
 * SETTLE_LIMIT_SECONDS. The probes go to the trash, deleting nothing.
 */
export function settleFileCreation(): number {
  spawnSync('sync');
  const start = performance.now();
  for (;;) {
    const probe = mkdtempSync(join(tmpdir(), 'pipeline-probe-'));
    const began = performance.now();
    for (let k = 0; k < PROBE_FILES; k++) writeFileSync(join(probe, String(k)), '');
    const microsecondsPerFile = ((performance.now() - began) * 1000) / PROBE_FILES;
    discard(probe);
    const waited = (performance.now() - start) / 1000;
    if (microsecondsPerFile <= SETTLED_MICROSECONDS_PER_FILE || waited >= SETTLE_LIMIT_SECONDS) {
      return Math.round(waited);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PROBE_EVERY_SECONDS * 1000);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  rmSync(trash, { recursive: true, force: true });
  spawnSync('sync', { stdio: 'inherit' });
}
