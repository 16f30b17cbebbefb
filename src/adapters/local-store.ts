import {
  closeSync,
  type Dirent,
  fstatSync,
  openSync,
  readSync,
  realpathSync,
  type Stats,
  statSync,
  unlinkSync,
} from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { InvalidKeyError, ObjectNotFoundError } from '../core/errors.ts';
import type { ByteRange, ByteSink } from '../core/io.ts';
import { compareKeys, type ObjectStore, type StoredObject } from '../core/ports/object-store.ts';
import { openFileSink, SMALL_FILE_BYTES, temporaryWriter } from './file-sink.ts';
import { READ_CHUNK_BYTES, readFileChunks } from './file-source.ts';

const PARTIAL = '.partial';
/** Objects a listing or a deletion goes through before it lets the event loop run. */
const LET_THROUGH_EVERY = 256;

/** A file a write has not finished with: under way, or cut short by a process that died. */
export interface TemporaryFile {
  /** Its path below the root, with '/' as the separator. */
  readonly path: string;
  /** The process writing it. */
  readonly writer: number | undefined;
  readonly lastModified: Date;
}

/**
 * A folder playing the bucket: a key is a path below it, and nothing outside it can be reached, by
 * `..` or by a symbolic link.
 */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  #realRoot: string | undefined;
  /** Each linked folder's prefix, and where its link leads once resolved. */
  readonly #linked = new Map<string, string | undefined>();

  /**
   * `linkedFolders`: prefixes (`inbox/photos/`) whose folder is a symbolic link the store's owner made
   * to a folder elsewhere, as `pipeline run` does with a folder given to it rather than linking its
   * thousands of files one by one. Objects below are read through the link, never from further out
   * than where it leads, and are not written or deleted: the folder is the user's.
   */
  constructor(root: string, options: { linkedFolders?: readonly string[] } = {}) {
    this.root = resolve(root);
    for (const prefix of options.linkedFolders ?? []) {
      if (!prefix.endsWith('/')) throw new InvalidKeyError(`linked folder ${prefix} must end with '/'`);
      this.#linked.set(prefix, undefined);
    }
  }

  async *read(key: string, range?: ByteRange): AsyncGenerator<Buffer> {
    const path = this.inside(key);
    const small = readSmallFile(path, key, range);
    if (typeof small !== 'number') {
      if (small.length > 0) yield small;
      return;
    }
    // Buffers no larger than the object, read up to the size found: S3 serves the object as it was when
    // asked.
    yield* readFileChunks(path, Math.min(READ_CHUNK_BYTES, small), range ?? { start: 0, end: small });
  }

  async write(key: string): Promise<ByteSink> {
    this.refuseInLinkedFolder(key, 'written');
    return openFileSink(this.path(key));
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const path = this.inside(key);
    try {
      const info = await stat(path);
      return info.isFile() ? describe(key, info.size, info.mtime) : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    // The walk follows no link, so what it found is inside: no need to resolve links as head does.
    // Sizes are read with direct calls (see readSmallFile), the event loop let through now and then.
    let listed = 0;
    for (const key of await this.keysBelow(prefix)) {
      if (++listed % LET_THROUGH_EVERY === 0) await letThrough();
      let info: Stats;
      try {
        info = statSync(this.path(key));
      } catch (error) {
        // Deleted or renamed since the walk: no longer listed.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (info.isFile()) yield describe(key, info.size, info.mtime);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.refuseInLinkedFolder(prefix, 'deleted');
    let deleted = 0;
    for (const key of await this.keysBelow(prefix)) {
      if (deleted % LET_THROUGH_EVERY === 0) await letThrough();
      try {
        unlinkSync(this.path(key));
        deleted++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    // Only below the prefix: elsewhere other jobs may have just made a folder they are about to write in.
    await this.pruneEmptyFolders(this.folderOf(prefix));
    return deleted;
  }

  /** The keys of the objects below `prefix`, in key order. */
  private async keysBelow(prefix: string): Promise<string[]> {
    const files: string[] = [];
    await this.walk(this.folderOf(prefix), files);
    return files
      .map((file) => this.keyOf(file))
      .filter((key) => key.startsWith(prefix))
      .sort(compareKeys);
  }

  /** Every temporary file whose path starts with `prefix` (every one below the root by default). */
  async temporaries(prefix = ''): Promise<TemporaryFile[]> {
    const paths: string[] = [];
    await this.walk(this.folderOf(prefix), paths, true);
    const found: TemporaryFile[] = [];
    for (const path of paths.sort()) {
      const key = this.keyOf(path);
      if (!key.startsWith(prefix)) continue;
      let modified: Date;
      try {
        modified = (await stat(path)).mtime;
      } catch (error) {
        // Renamed into place or dropped since the folder was read: no longer a temporary.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      found.push({
        path: key,
        writer: temporaryWriter(basename(path)),
        lastModified: modified,
      });
    }
    return found;
  }

  /** Deletes a temporary file `temporaries` listed. */
  async deleteTemporary(path: string): Promise<void> {
    if (!path.endsWith(PARTIAL)) throw new InvalidKeyError(`${path} is not a temporary file`);
    await rm(this.path(path), { force: true });
  }

  /**
   * The key's path, once it is known not to lead outside the root through a symbolic link (the inbox
   * may be writable by others than the store's owner). Resolved from this thread, as small files are
   * read (see readSmallFile).
   */
  private inside(key: string): string {
    const path = this.path(key);
    let real: string;
    try {
      real = realpathSync.native(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return path;
      throw error;
    }
    const linked = this.linkedFolderOf(key);
    if (linked !== undefined) {
      const target = this.#linked.get(linked) ?? realpathSync.native(this.path(linked));
      this.#linked.set(linked, target);
      if (real.startsWith(target + sep)) return path;
      throw new InvalidKeyError(`key ${JSON.stringify(key)} leaves ${linked} through a symbolic link`);
    }
    this.#realRoot ??= realpathSync.native(this.root);
    if (!real.startsWith(this.#realRoot + sep)) {
      throw new InvalidKeyError(`key ${JSON.stringify(key)} leaves the store through a symbolic link`);
    }
    return path;
  }

  private linkedFolderOf(key: string): string | undefined {
    for (const prefix of this.#linked.keys()) if (key.startsWith(prefix)) return prefix;
    return undefined;
  }

  /** Nothing below a linked folder is written or deleted, nor a prefix holding one. */
  private refuseInLinkedFolder(key: string, what: 'written' | 'deleted'): void {
    for (const prefix of this.#linked.keys()) {
      if (key.startsWith(prefix) || prefix.startsWith(key)) {
        throw new InvalidKeyError(`${key} is in ${prefix}, a folder of inputs, which is not ${what} here`);
      }
    }
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

  /** A path below the root, with '/' as the separator. */
  private keyOf(path: string): string {
    return relative(this.root, path).split(sep).join('/');
  }

  /** The folder a prefix names, up to its last '/': only it is walked, not the whole store. */
  private folderOf(prefix: string): string {
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    return folder === '' ? this.root : this.path(folder);
  }

  /** The files below `folder`, objects or temporaries; symbolic links are not followed. */
  private async walk(folder: string, files: string[], temporaries = false): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await this.walk(path, files, temporaries);
      else if (entry.isFile() && entry.name.endsWith(PARTIAL) === temporaries) files.push(path);
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

/**
 * A file of at most SMALL_FILE_BYTES read whole (or the range of it asked for) with the calls made
 * straight from this thread, which for a small file costs less than handing each to the I/O thread
 * pool: a job of thousands of small inputs reads them several times faster. For a larger file, which
 * is streamed instead, its size. ObjectNotFoundError when there is no file at `path`.
 */
function readSmallFile(path: string, key: string, range: ByteRange | undefined): Buffer | number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ObjectNotFoundError(key, { cause: error });
    throw error;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new ObjectNotFoundError(key);
    if (info.size > SMALL_FILE_BYTES) return info.size;
    const start = Math.min(range?.start ?? 0, info.size);
    const end = Math.min(range?.end ?? info.size, info.size);
    const bytes = Buffer.allocUnsafe(Math.max(0, end - start));
    for (let done = 0; done < bytes.length; ) {
      const read = readSync(fd, bytes, done, bytes.length - done, start + done);
      if (read === 0) return bytes.subarray(0, done);
      done += read;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** Lets timers and I/O callbacks run between the direct calls of a long listing or deletion. */
function letThrough(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
