import { statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { compareKeys } from '../core/ports/object-store.ts';
import { isInputObject } from '../core/steps/layout.ts';
import { UsageError } from './errors.ts';

/** A file to score, and its name in the results (`<name>.out`). */
export interface NamedFile {
  readonly path: string;
  readonly name: string;
  readonly size: number;
}

/**
 * A path given on the command line: a file, named by its base name, or a folder, whose files are
 * named by their paths relative to it.
 */
export interface CommandInput {
  readonly given: string;
  /** The folder's name, for a folder; absent for a file. */
  readonly folder?: string;
  /** A file: itself. A folder: every input file below it, in key order. */
  readonly files: readonly NamedFile[];
  /** A folder in which a symbolic link was followed to find them. */
  readonly followsLinks?: boolean;
}

/**
 * The files and folders given to `pipeline run` or `pipeline plan`, read as a job would take them in
 * the bucket: a folder stands for every file below it in key order (the UTF-8 byte order of the
 * relative keys), skipping what `isInputObject` skips (hidden files and folders, `*.job.json`
 * sidecars, `_SUCCESS` markers, empty files). UsageError for a path that is neither, a folder that
 * holds no input, or two inputs that would write the same result.
 */
export async function commandInputs(paths: readonly string[]): Promise<CommandInput[]> {
  const inputs: CommandInput[] = [];
  const owners = new Map<string, string>();
  for (const given of paths) {
    const info = await stat(given).catch(() => undefined);
    let input: CommandInput;
    if (info?.isFile()) {
      input = { given, files: [{ path: resolve(given), name: basename(given), size: info.size }] };
    } else if (info?.isDirectory()) {
      const { files, followsLinks } = await folderFiles(resolve(given));
      if (files.length === 0) {
        throw new UsageError(
          `folder ${given} holds no input file (hidden files and folders, *.job.json sidecars, _SUCCESS ` +
            'markers and empty files are skipped)',
        );
      }
      input = { given, folder: basename(resolve(given)) || 'root', files, followsLinks };
    } else {
      throw new UsageError(`input ${given} is not a file or a folder`);
    }
    for (const file of input.files) {
      const owner = owners.get(file.name);
      if (owner !== undefined) {
        throw new UsageError(
          `${owner} and ${file.path} would both be written to ${file.name}.out: give them in separate runs`,
        );
      }
      owners.set(file.name, file.path);
    }
    inputs.push(input);
  }
  return inputs;
}

/** Every input file below `root`, named by its key relative to it, in key order. */
async function folderFiles(root: string): Promise<{ files: NamedFile[]; followsLinks: boolean }> {
  const files: NamedFile[] = [];
  let followsLinks = false;
  // Folders by device and inode: a symbolic link back up the tree is walked once.
  const walked = new Set<string>();
  const walk = async (folder: string, prefix: string): Promise<void> => {
    const { dev, ino } = await stat(folder);
    if (walked.has(`${dev}:${ino}`)) return;
    walked.add(`${dev}:${ino}`);
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      const name = `${prefix}${entry.name}`;
      if (entry.isSymbolicLink()) followsLinks = true;
      const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
      if (info?.isDirectory()) await walk(path, `${name}/`);
      else if (info?.isFile()) {
        // A direct call: a thread-pool trip per file costs more than the call itself, over thousands.
        const { size } = statSync(path);
        if (isInputObject(name, size)) files.push({ path, name, size });
      }
    }
  };
  await walk(root, '');
  files.sort((a, b) => compareKeys(a.name, b.name));
  return { files, followsLinks };
}
