import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { UnsafeArchiveError } from '../errors.ts';
import { BLOCK, decodeHeader, entryType, isEndBlock, paddingOf, parsePax, type TarHeader } from './header.ts';

export interface ExtractOptions {
  /** The most bytes the archive's files may hold together, unpacked. */
  readonly maxBytes: number;
}

/**
 * Unpacks a .tar.gz into `root`, an empty folder, refusing anything that could reach outside it: an
 * entry named with `..` or an absolute path, a link (symbolic or hard) whose target lies outside, a
 * device or pipe, or files that together hold more than `maxBytes`. Each refusal names the entry.
 * Links are made after every file and folder, so nothing is ever written through one.
 */
export async function extractTarGz(archive: string, root: string, options: ExtractOptions): Promise<void> {
  const file = createReadStream(archive);
  const gunzip = createGunzip();
  file.on('error', (error) => gunzip.destroy(error));
  const reader = new BlockReader(file.pipe(gunzip), archive);
  const links: { path: string; name: string; target: string; hard: boolean }[] = [];
  let total = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const block = await reader.read(BLOCK);
      if (block === undefined || isEndBlock(block)) break;
      const header = decodeHeader(block);
      if (header === undefined) throw new UnsafeArchiveError(`${archive} is not a tar archive (bad header)`);
      if (header.flag === 'x' || header.flag === 'L' || header.flag === 'K') {
        const data = await reader.readAll(header.size);
        await reader.skip(paddingOf(header.size));
        if (header.flag === 'x') pax = parsePax(data);
        else if (header.flag === 'L') longName = nulTerminated(data);
        else longLink = nulTerminated(data);
        continue;
      }
      if (header.flag === 'g') {
        await reader.skip(header.size + paddingOf(header.size));
        continue;
      }
      const entry: TarHeader = {
        ...header,
        name: pax.get('path') ?? longName ?? header.name,
        linkname: pax.get('linkpath') ?? longLink ?? header.linkname,
        size: pax.has('size') ? Number(pax.get('size')) : header.size,
      };
      pax = new Map();
      longName = undefined;
      longLink = undefined;

      const name = safeName(entry.name, archive);
      const type = entryType(entry.flag);
      if (type === 'other') {
        throw new UnsafeArchiveError(
          `${archive}: entry ${entry.name} is a device or pipe, which a model never holds`,
        );
      }
      if (type === 'file') {
        total += entry.size;
        if (total > options.maxBytes) {
          throw new UnsafeArchiveError(
            `${archive}: entry ${entry.name} takes the unpacked size over the limit of ${options.maxBytes} bytes`,
          );
        }
      }
      const path = name === '' ? root : join(root, name);
      if (type === 'directory') await mkdir(path, { recursive: true });
      else if (type === 'file') await writeEntry(reader, path, entry, archive);
      else {
        const target = linkTarget(entry, name, type === 'hardlink', archive);
        links.push({ path, name: entry.name, target, hard: type === 'hardlink' });
      }
      if (type === 'file') await reader.skip(paddingOf(entry.size));
      else await reader.skip(entry.size + paddingOf(entry.size));
    }
  } finally {
    reader.close();
  }
  for (const link of links) {
    try {
      if (link.hard) await copyFile(join(root, link.target), link.path);
      else await symlink(link.target, link.path);
    } catch (error) {
      throw new UnsafeArchiveError(
        `${archive}: link ${link.name} cannot be made: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

/** The entry's path inside the root, POSIX-style, or a refusal naming it. */
function safeName(name: string, archive: string): string {
  if (name.includes('\0') || isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.startsWith('/')) {
    throw new UnsafeArchiveError(
      `${archive}: entry ${name} has an absolute path, which would leave the model folder`,
    );
  }
  const normal = posix.normalize(name.replaceAll('\\', '/'));
  if (normal === '..' || normal.startsWith('../') || name.split(/[/\\]/).includes('..')) {
    throw new UnsafeArchiveError(`${archive}: entry ${name} leaves the model folder (..)`);
  }
  return normal === '.' || normal === './' ? '' : normal.replace(/\/$/, '');
}

/** Where a link points, relative to the root for a hard link and to the link's folder for a symbolic one. */
function linkTarget(entry: TarHeader, name: string, hard: boolean, archive: string): string {
  const target = entry.linkname;
  const resolved = hard ? posix.normalize(target) : posix.normalize(posix.join(posix.dirname(name), target));
  if (isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
    throw new UnsafeArchiveError(
      `${archive}: entry ${entry.name} is a link to ${target}, outside the model folder`,
    );
  }
  return hard ? resolved : target;
}

async function writeEntry(
  reader: BlockReader,
  path: string,
  entry: TarHeader,
  archive: string,
): Promise<void> {
  const refuse = (reason: string, cause?: unknown) =>
    new UnsafeArchiveError(`${archive}: entry ${entry.name} ${reason}`, { cause });
  await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
    throw refuse(`cannot be written: ${(error as Error).message}`, error);
  });
  const file = await open(path, 'wx', (entry.mode & 0o755) | 0o600).catch((error: unknown) => {
    throw refuse(`cannot be written: ${(error as Error).message}`, error);
  });
  try {
    let left = entry.size;
    while (left > 0) {
      const chunk = await reader.readSome(left);
      if (chunk === undefined) throw refuse('is cut short: the archive ends in the middle of it');
      await file.write(chunk);
      left -= chunk.length;
    }
  } finally {
    await file.close();
  }
}

function nulTerminated(data: Uint8Array): string {
  const end = data.indexOf(0);
  return Buffer.from(end < 0 ? data : data.subarray(0, end)).toString('utf8');
}

/** Reads a stream in exact amounts, without holding more than one of its chunks. */
class BlockReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly stream: NodeJS.ReadableStream & { destroy(): void };
  private readonly archive: string;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(stream: NodeJS.ReadableStream & { destroy(): void }, archive: string) {
    this.stream = stream;
    this.archive = archive;
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Exactly `size` bytes, or undefined at the end of the stream. */
  async read(size: number): Promise<Buffer | undefined> {
    while (this.pending.length < size && (await this.fill()));
    if (this.pending.length < size) return undefined;
    const out = this.pending.subarray(0, size);
    this.pending = this.pending.subarray(size);
    return out;
  }

  async readAll(size: number): Promise<Buffer> {
    if (size > 1024 * 1024) {
      throw new UnsafeArchiveError(`${this.archive} has an extended header of ${size} bytes`);
    }
    const data = await this.read(size);
    if (data === undefined) throw new UnsafeArchiveError(`${this.archive} ends in the middle of a header`);
    return Buffer.from(data);
  }

  /** Up to `most` bytes, as they come. */
  async readSome(most: number): Promise<Buffer | undefined> {
    if (this.pending.length === 0 && !(await this.fill())) return undefined;
    const out = this.pending.subarray(0, most);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  async skip(size: number): Promise<void> {
    let left = size;
    while (left > 0) {
      const chunk = await this.readSome(left);
      if (chunk === undefined) return;
      left -= chunk.length;
    }
  }

  close(): void {
    this.stream.destroy();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    let next: IteratorResult<Buffer>;
    try {
      next = await this.iterator.next();
    } catch (error) {
      throw new UnsafeArchiveError(
        `${this.archive} cannot be read as a .tar.gz: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (next.done) {
      this.done = true;
      return false;
    }
    this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value]);
    return true;
  }
}
