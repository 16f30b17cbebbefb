import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BLOCK, encodeHeader, fitsHeader, paddingOf, paxRecord } from './header.ts';

/** A folder to pack, under the name it gets in the archive. */
export interface PackedFolder {
  readonly source: string;
  readonly name: string;
}

/** Largest size an octal header field holds; larger files get their size in a pax record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/**
 * Writes a .tar.gz of the folders, each under its name, files in name order. Symbolic links are
 * followed, so the archive holds files and folders only, as the SageMaker containers unpack them.
 */
export async function packTarGz(folders: readonly PackedFolder[], out: string): Promise<void> {
  await pipeline(Readable.from(entries(folders)), createGzip(), createWriteStream(out));
}

async function* entries(folders: readonly PackedFolder[]): AsyncGenerator<Uint8Array> {
  for (const folder of folders) yield* folderEntries(await realpath(folder.source), folder.name);
  yield new Uint8Array(BLOCK * 2);
}

async function* folderEntries(path: string, name: string): AsyncGenerator<Uint8Array> {
  const info = await stat(path);
  yield* header(`${name}/`, '5', 0, info.mode, info.mtimeMs);
  const children = (await readdir(path)).sort();
  for (const child of children) {
    const childPath = join(path, child);
    const childName = `${name}/${child}`;
    const target = (await lstat(childPath)).isSymbolicLink() ? await stat(childPath) : await lstat(childPath);
    if (target.isDirectory()) yield* folderEntries(childPath, childName);
    else if (target.isFile()) {
      yield* header(childName, '0', target.size, target.mode, target.mtimeMs);
      for await (const chunk of createReadStream(childPath)) yield chunk as Buffer;
      yield new Uint8Array(paddingOf(target.size));
    }
  }
}

function* header(
  name: string,
  flag: string,
  size: number,
  mode: number,
  mtimeMs: number,
): Generator<Uint8Array> {
  const records = [
    ...(fitsHeader(name) ? [] : [paxRecord('path', name)]),
    ...(size > MAX_OCTAL_SIZE ? [paxRecord('size', String(size))] : []),
  ];
  const mtime = Math.floor(mtimeMs / 1000);
  if (records.length > 0) {
    const pax = Buffer.from(records.join(''));
    yield encodeHeader({ name: 'PaxHeader', mode: 0o644, size: pax.length, mtime, flag: 'x', linkname: '' });
    yield pax;
    yield new Uint8Array(paddingOf(pax.length));
  }
  yield encodeHeader({
    name,
    mode: mode & 0o755,
    size: size > MAX_OCTAL_SIZE ? 0 : size,
    mtime,
    flag,
    linkname: '',
  });
}
