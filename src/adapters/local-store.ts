import type { Dirent } from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { ByteSink } from '../core/io.ts';
import {
  InvalidKeyError,
  ObjectNotFoundError,
  type ObjectStore,
  type StoredObject,
} from '../core/ports/object-store.ts';
import { openFileSink } from './file-sink.ts';
import { readFileChunks } from './file-source.ts';

const PARTIAL = '.partial';

/** A folder playing the bucket: a key is a path below it, and nothing outside it can be reached. */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async *read(key: string): AsyncGenerator<Buffer> {
    const path = this.path(key);
    try {
      if (!(await stat(path)).isFile()) throw new ObjectNotFoundError(key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) throw error;
      throw new ObjectNotFoundError(key, { cause: error });
    }
    yield* readFileChunks(path);
  }

  async write(key: string): Promise<ByteSink> {
    return openFileSink(this.path(key));
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const path = this.path(key);
    try {
      const info = await stat(path);
      return info.isFile() ? describe(key, info.size, info.mtime) : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    const files: string[] = [];
    await this.walk(this.root, files);
    const keys = files
      .map((file) => relative(this.root, file).split(sep).join('/'))
      .filter((key) => key.startsWith(prefix))
      .sort();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for await (const object of this.list(prefix)) {
      await rm(this.path(object.key), { force: true });
      deleted++;
    }
    await this.pruneEmptyFolders(this.root);
    return deleted;
  }

  private path(key: string): string {
    const parts = key.split('/');
    const unsafe = key.length === 0 || key.startsWith('/') || key.includes('\0') || key.includes('\\');
    if (unsafe || parts.some((part) => part === '..' || part === '.')) {
      throw new InvalidKeyError(
        `key ${JSON.stringify(key)} is not allowed: it must be a relative path without . or .. parts`,
      );
    }
    const path = resolve(this.root, ...parts.filter((part) => part.length > 0));
    if (!path.startsWith(this.root + sep))
      throw new InvalidKeyError(`key ${JSON.stringify(key)} leaves the store`);
    return path;
  }

  private async walk(folder: string, files: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await this.walk(path, files);
      else if (entry.isFile() && !entry.name.endsWith(PARTIAL)) files.push(path);
    }
  }

  private async pruneEmptyFolders(folder: string): Promise<boolean> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return false;
    }
    let empty = true;
    for (const entry of entries) {
      if (!entry.isDirectory() || !(await this.pruneEmptyFolders(join(folder, entry.name)))) empty = false;
    }
    if (empty && folder !== this.root) await rmdir(folder).catch(() => undefined);
    return empty;
  }
}

function describe(key: string, size: number, modified: Date): StoredObject {
  return {
    key,
    size,
    etag: `${size.toString(16)}-${modified.getTime().toString(16)}`,
    lastModified: modified,
  };
}
