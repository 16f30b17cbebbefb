/**
 * The 512-byte header of a tar entry (POSIX ustar, with the GNU and pax extensions readers meet in
 * model.tar.gz files made by GNU tar, Python's tarfile and SageMaker).
 */

export const BLOCK = 512;

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarHeader {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
  /** The raw type flag: '0' a file, '5' a folder, 'x' pax attributes of the next entry, and so on. */
  readonly flag: string;
  readonly linkname: string;
}

const ZERO_BLOCK = new Uint8Array(BLOCK);

export function isEndBlock(block: Uint8Array): boolean {
  return Buffer.compare(block, ZERO_BLOCK) === 0;
}

/** The header in `block`, or undefined when its checksum does not match (the file is not a tar archive). */
export function decodeHeader(block: Uint8Array): TarHeader | undefined {
  const stored = readOctal(block, 148, 8);
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : (block[k] ?? 0);
  if (stored !== sum) return undefined;
  const magic = text(block, 257, 6);
  const prefix = magic.startsWith('ustar') ? text(block, 345, 155) : '';
  const name = text(block, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    mode: readOctal(block, 100, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    flag: String.fromCharCode(block[156] || 0x30),
    linkname: text(block, 157, 100),
  };
}

export function entryType(flag: string): EntryType {
  if (flag === '0' || flag === '7') return 'file';
  if (flag === '5') return 'directory';
  if (flag === '2') return 'symlink';
  if (flag === '1') return 'hardlink';
  return 'other';
}

/** A ustar header; a name that does not fit goes in a pax record before it (see `paxRecord`). */
export function encodeHeader(header: TarHeader): Uint8Array {
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(header.name) ?? { prefix: '', name: header.name.slice(0, 100) };
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, header.mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, header.size);
  writeOctal(block, 136, 12, header.mtime);
  block.write(header.flag, 156, 1, 'latin1');
  block.write(header.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 8, 'latin1');
  block.write(prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeOctal(block, 148, 7, sum);
  return block;
}

/** Whether the name fits a ustar header (100 bytes, or a prefix of up to 155 and a name of up to 100). */
export function fitsHeader(name: string): boolean {
  return splitName(name) !== undefined;
}

function splitName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let cut = name.indexOf('/'); cut >= 0; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const rest = name.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') {
      return { prefix, name: rest };
    }
  }
  return undefined;
}

/** One pax extended header record, `"<length> <key>=<value>\n"`, whose length counts itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return `${length}${body}`;
}

/** The key=value records of a pax extended header. */
export function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < buffer.length) {
    const space = buffer.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(buffer.toString('latin1', at, space));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = buffer.toString('utf8', space + 1, at + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

export function paddingOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function text(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return Buffer.from(field.subarray(0, end < 0 ? length : end)).toString('utf8');
}

function readOctal(block: Uint8Array, offset: number, length: number): number {
  const digits = text(block, offset, length).trim();
  return digits === '' ? 0 : Number.parseInt(digits, 8);
}

/** An octal field, or GNU's base-256 form (first byte 0x80) for sizes of 8 GiB and more. */
function readNumber(block: Uint8Array, offset: number, length: number): number {
  if (((block[offset] ?? 0) & 0x80) === 0) return readOctal(block, offset, length);
  let value = (block[offset] ?? 0) & 0x7f;
  for (let k = 1; k < length; k++) value = value * 256 + (block[offset + k] ?? 0);
  return value;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}
