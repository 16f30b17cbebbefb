import { createHash, randomInt } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { LockHeldError } from '../core/errors.ts';
import { isRunning, type ProcessIdentity, thisProcess } from './processes.ts';

/** A lock file held by this process. */
export interface ProcessLock {
  readonly path: string;
  /** Lets go of the lock, unless another process has taken it over meanwhile. */
  release(): Promise<void>;
}

/**
 * Takes the lock file at `path` for this process, or throws LockHeldError naming the running process
 * that holds it. The file names its holder; it appears whole, and only where there is none (a hard
 * link fails on an existing name), so of two processes starting at once exactly one gets it. A lock
 * whose holder has ended (killed, crashed) is taken over under a second lock named after that holder:
 * of several processes finding it at once, one replaces it and the others then find that one running.
 */
export async function acquireLock(
  path: string,
  owner: ProcessIdentity = thisProcess(),
): Promise<ProcessLock> {
  const mine = `${JSON.stringify(owner)}\n`;
  for (;;) {
    if (await createExclusive(path, mine)) return held(path, mine);
    const found = await readIfPresent(path);
    // Released since: try again.
    if (found === undefined) continue;
    const holder = holderOf(found);
    if (holder && isRunning(holder)) throw new LockHeldError(path, holder.pid);
    let takeover: ProcessLock;
    try {
      takeover = await acquireLock(`${path}.${digest(found)}.takeover`, owner);
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      // Another process is taking the lock over: it is the holder from now on.
      throw new LockHeldError(path, error.holder, { cause: error });
    }
    try {
      // Only a holder that has ended is replaced: the file may have changed hands before the takeover.
      if ((await readIfPresent(path)) === found) {
        await writeAside(path, mine, (aside) => rename(aside, path));
        return held(path, mine);
      }
    } finally {
      await takeover.release();
    }
  }
}

function held(path: string, content: string): ProcessLock {
  return {
    path,
    async release() {
      if ((await readIfPresent(path)) === content) await rm(path, { force: true });
    },
  };
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    await writeAside(path, content, (aside) => link(aside, path));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Writes `content` beside `path` under a temporary name, then puts it in place with `place`. */
async function writeAside(
  path: string,
  content: string,
  place: (aside: string) => Promise<void>,
): Promise<void> {
  // Named as the store names its temporaries (`<name>.<pid>.<n>.partial`), for the sweep to find.
  const aside = `${path}.${process.pid}.${randomInt(2 ** 47)}.partial`;
  await writeFile(aside, content);
  try {
    await place(aside);
  } finally {
    await rm(aside, { force: true });
  }
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The process a lock file names; undefined for a file that names none, which holds nothing. */
function holderOf(content: string): ProcessIdentity | undefined {
  try {
    const holder = JSON.parse(content) as Partial<ProcessIdentity>;
    return typeof holder.pid === 'number' ? (holder as ProcessIdentity) : undefined;
  } catch {
    return undefined;
  }
}

function digest(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}
