import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGING_PROGRAM, type SourceFile } from '../core/steps/packaging.ts';

/** The files of training/: the packaging script and what the training container installs for it. */
const FILES = [PACKAGING_PROGRAM, 'requirements.txt'];

/** Reads the packaging source from a training/ folder once, when a job first needs it. */
export function packagingSource(folder: string): () => Promise<readonly SourceFile[]> {
  let read: Promise<SourceFile[]> | undefined;
  return () => {
    read ??= Promise.all(FILES.map(async (name) => ({ name, content: await readFile(join(folder, name)) })));
    read.catch(() => {
      read = undefined;
    });
    return read;
  };
}
