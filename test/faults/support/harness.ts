import './quiet.ts';
import { readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceRegistry } from '../../../src/local/sagemaker/registry.ts';

export { pipeline } from '../../support/cli.ts';

import { scalingModel } from '../../support/models.ts';

/** The files and folders below `dir`, by relative path, without following symbolic links. */
export async function entriesBelow(dir: string, below = ''): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(join(dir, below), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = below === '' ? entry.name : `${below}/${entry.name}`;
    found.push(path);
    if (entry.isDirectory()) found.push(...(await entriesBelow(dir, path)));
  }
  return found.sort();
}

/** What a job left in a data dir that it should not have: models, work files, half-written files. */
export async function leftovers(dataDir: string) {
  const entries = await entriesBelow(dataDir);
  return {
    models: new ResourceRegistry(dataDir).names('model'),
    work: entries.filter((path) => path.startsWith('work/')),
    partial: entries.filter((path) => path.endsWith('.partial')),
  };
}

export const NOTHING_LEFT = { models: [], work: [], partial: [] };

/** Open file descriptors of this process. */
export function openFiles(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Waits until `done` holds (sockets a peer closed take a moment to be let go of on this side), or
 * gives up after `seconds`; the caller asserts on what it then sees.
 */
export async function settled(done: () => boolean, seconds = 5): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!done() && Date.now() < deadline) await sleep(50);
}

/** A model in TFS layout (`<folder>/1/model.onnx`) that answers each row [x, y] with [2x, 2y]. */
export function doublingModel(folder: string): Promise<string> {
  return scalingModel(folder, 1, 2);
}

export async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line.length > 0);
}

/** The value `probe` gives once it gives one; throws after `seconds`, saying what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  seconds = 60,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits for `event`, failing rather than hanging the test if it does not come. */
export async function withinSeconds(seconds: number, event: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing came within ${seconds} s`)), seconds * 1000);
  });
  try {
    await Promise.race([event, late]);
  } finally {
    clearTimeout(timer);
  }
}
