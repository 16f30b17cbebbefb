import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/adapters/process-lock.ts';
import { thisProcess } from '../../src/adapters/processes.ts';
import { LockHeldError } from '../../src/core/errors.ts';

async function lockPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'pipeline-lock-')), 'up.lock');
}

/** A process that has ended: its id is not reused this soon. */
const ended = () => spawnSync(process.execPath, ['-e', '']).pid;

/** How many of the attempts got the lock; every other one must have been told who holds it. */
async function winners(attempts: Promise<unknown>[]): Promise<number> {
  const outcomes = await Promise.allSettled(attempts);
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      expect(outcome.reason).toBeInstanceOf(LockHeldError);
      expect(outcome.reason).toMatchObject({ holder: process.pid });
    }
  }
  return outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
}

describe('acquireLock', () => {
  it('goes to exactly one of many asking at once, and names it to the others', async () => {
    const path = await lockPath();
    expect(await winners(Array.from({ length: 20 }, () => acquireLock(path)))).toBe(1);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(thisProcess());
  });

  it('is taken over from a process that has ended, by exactly one of many at once, leaving nothing else', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: ended() }));
    expect(await winners(Array.from({ length: 20 }, () => acquireLock(path)))).toBe(1);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(thisProcess());
    expect(await readdir(join(path, '..'))).toEqual(['up.lock']);
  });

  it('is taken over when its pid is now another process, and from a file that names no process', async () => {
    for (const content of [JSON.stringify({ pid: process.pid, start: 'before this one' }), '']) {
      const path = await lockPath();
      await writeFile(path, content);
      const lock = await acquireLock(path);
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(thisProcess());
      await lock.release();
      expect(await readdir(join(path, '..'))).toEqual([]);
    }
  });

  it('is left to a running process that is taking it over, and taken over from one that died doing so', async () => {
    const path = await lockPath();
    const stale = JSON.stringify({ pid: ended() });
    await writeFile(path, stale);
    // The lock a process takes to take over that one, named after it.
    const takeover = `${path}.${createHash('sha256').update(stale).digest('hex').slice(0, 16)}.takeover`;

    await writeFile(takeover, JSON.stringify(thisProcess()));
    await expect(acquireLock(path)).rejects.toMatchObject({ name: 'LockHeldError', holder: process.pid });

    await writeFile(takeover, JSON.stringify({ pid: ended() }));
    await acquireLock(path);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(thisProcess());
    expect(await readdir(join(path, '..'))).toEqual(['up.lock']);
  });

  it('is let go of only by its holder', async () => {
    const path = await lockPath();
    const lock = await acquireLock(path);
    const successor = JSON.stringify({ pid: process.pid, start: 'a process that took it over' });
    await writeFile(path, successor);
    await lock.release();
    expect(await readFile(path, 'utf8')).toBe(successor);
  });
});
