/**
 * MXNet RecordIO framing. Each part is uint32 LE magic, uint32 LE lrecord (cflag in the top 3 bits,
 * length in the low 29), the data and zero padding to a multiple of 4. A record whose data holds the
 * magic number at a 4-byte aligned position is written as several parts, cut at each such magic,
 * which is dropped; the reader puts it back between consecutive parts.
 */
import { FramingError } from '../errors.ts';
import { HeaderReader } from './header.ts';
import { recordTooLarge } from './limits.ts';
import {
  RAW_KEEP_BYTES,
  type ReaderFactory,
  type ReaderOptions,
  type RecordFramer,
  type RecordHandler,
  type RecordReader,
} from './types.ts';

export const RECORDIO_MAGIC = 0xced7230a;
const MAGIC_BYTES = Buffer.from([0x0a, 0x23, 0xd7, 0xce]);
const HEADER_BYTES = 8;
const LENGTH_MASK = (1 << 29) - 1;

const FLAG_WHOLE = 0;
const FLAG_FIRST = 1;
const FLAG_MIDDLE = 2;
const FLAG_LAST = 3;

const EMPTY = Buffer.alloc(0);

function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}

type State = 'header' | 'body';

class RecordIoReader implements RecordReader {
  readonly #handler: RecordHandler;
  readonly #input: string;
  readonly #maxRecordBytes: number;

  #state: State = 'header';
  /** Bytes of input before the current chunk. */
  #consumed = 0;
  #failure: FramingError | undefined;

  readonly #header = new HeaderReader(HEADER_BYTES, (header) => this.#onHeader(header));

  /** The part being read. */
  #partStart = 0;
  #flag = FLAG_WHOLE;
  #partLength = 0;
  #dataRemaining = 0;
  #bodyRemaining = 0;

  /** The record being read: its number, where its first part starts, and its data size so far. */
  #record = 0;
  #inRecord = false;
  #recordStart = 0;
  #size = 0;
  #oversize = false;
  /** The record's data as assembled so far; only its first RAW_KEEP_BYTES once it is oversize. */
  #store: Buffer = EMPTY;
  #fill = 0;

  constructor(handler: RecordHandler, options: ReaderOptions) {
    this.#handler = handler;
    this.#input = options.input;
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  push(chunk: Buffer): void {
    if (this.#failure) throw this.#failure;
    let pos = 0;
    while (pos < chunk.length) {
      pos = this.#state === 'header' ? this.#readHeader(chunk, pos) : this.#readBody(chunk, pos);
    }
    this.#consumed += chunk.length;
  }

  end(): void {
    if (this.#failure) throw this.#failure;
    if (!this.#inRecord && this.#header.atStart) return;
    const got = this.#consumed - this.#recordStart;
    let expected: number;
    let exact: boolean;
    if (this.#state === 'body') {
      expected =
        this.#partStart - this.#recordStart + HEADER_BYTES + this.#partLength + padding(this.#partLength);
      exact = this.#flag === FLAG_WHOLE || this.#flag === FLAG_LAST;
    } else {
      expected = got - this.#header.partial().length + HEADER_BYTES;
      exact = false;
    }
    let reason = `truncated RecordIO: expected ${exact ? '' : 'at least '}${expected} bytes, got ${got}`;
    if (this.#oversize) reason += `; ${recordTooLarge(this.#size, this.#maxRecordBytes)}`;
    const raw = this.#inRecord ? this.#store.subarray(0, this.#fill) : this.#header.partial();
    this.#bad(this.#inRecord ? this.#record : this.#record + 1, reason, raw, got);
    this.#state = 'header';
    this.#header.clear();
    this.#inRecord = false;
    this.#store = EMPTY;
  }

  #readHeader(chunk: Buffer, pos: number): number {
    if (this.#header.atStart) {
      this.#partStart = this.#consumed + pos;
      if (!this.#inRecord) this.#recordStart = this.#partStart;
    }
    return this.#header.read(chunk, pos);
  }

  #onHeader(header: Buffer): void {
    const nextRecord = this.#inRecord ? this.#record : this.#record + 1;
    if (header.readUInt32LE(0) !== RECORDIO_MAGIC) {
      this.#fail(`RecordIO magic number not found at a part of record ${nextRecord}`);
    }
    const lrecord = header.readUInt32LE(4);
    const flag = lrecord >>> 29;
    const length = lrecord & LENGTH_MASK;
    const continuation = flag === FLAG_MIDDLE || flag === FLAG_LAST;
    if (!this.#inRecord) {
      if (continuation) {
        this.#fail(`RecordIO part with cflag ${flag} does not follow a first part (record ${nextRecord})`);
      }
      this.#record = nextRecord;
      this.#inRecord = true;
      this.#size = 0;
      this.#oversize = false;
      this.#store = EMPTY;
      this.#fill = 0;
    } else if (!continuation) {
      this.#fail(`RecordIO record ${this.#record} is split but its last part is missing`);
    }

    this.#size += (continuation ? MAGIC_BYTES.length : 0) + length;
    if (!this.#oversize && this.#size > this.#maxRecordBytes) {
      this.#oversize = true;
      const kept = this.#store.subarray(0, Math.min(this.#fill, RAW_KEEP_BYTES));
      this.#store = Buffer.allocUnsafe(RAW_KEEP_BYTES);
      this.#fill = kept.copy(this.#store);
    } else if (!this.#oversize && this.#store.length < this.#size) {
      const capacity = Math.min(this.#maxRecordBytes, Math.max(this.#size, this.#store.length * 2));
      const grown = Buffer.allocUnsafe(capacity);
      this.#store.copy(grown, 0, 0, this.#fill);
      this.#store = grown;
    }
    if (continuation) this.#append(MAGIC_BYTES);

    this.#state = 'body';
    this.#flag = flag;
    this.#partLength = length;
    this.#dataRemaining = length;
    this.#bodyRemaining = length + padding(length);
    if (this.#bodyRemaining === 0) this.#finishPart(undefined);
  }

  #readBody(chunk: Buffer, pos: number): number {
    const whole = this.#bodyRemaining === this.#partLength + padding(this.#partLength);
    if (whole && this.#flag === FLAG_WHOLE && !this.#oversize && chunk.length - pos >= this.#bodyRemaining) {
      const end = pos + this.#bodyRemaining;
      this.#finishPart(chunk.subarray(pos, pos + this.#partLength));
      return end;
    }
    const n = Math.min(this.#bodyRemaining, chunk.length - pos);
    const d = Math.min(n, this.#dataRemaining);
    if (d > 0) this.#append(chunk.subarray(pos, pos + d));
    this.#dataRemaining -= d;
    this.#bodyRemaining -= n;
    if (this.#bodyRemaining === 0) this.#finishPart(undefined);
    return pos + n;
  }

  #append(bytes: Buffer): void {
    this.#fill += bytes.copy(this.#store, this.#fill);
  }

  /** `direct` is the data of a single-part record read straight from the chunk. */
  #finishPart(direct: Buffer | undefined): void {
    this.#state = 'header';
    if (this.#flag === FLAG_FIRST || this.#flag === FLAG_MIDDLE) return;
    this.#inRecord = false;
    const store = this.#store;
    this.#store = EMPTY;
    if (this.#oversize) {
      this.#bad(
        this.#record,
        recordTooLarge(this.#size, this.#maxRecordBytes),
        store.subarray(0, this.#fill),
        this.#size,
      );
    } else {
      this.#handler.onRecord(direct ?? store.subarray(0, this.#fill), this.#record, this.#recordStart);
    }
  }

  #bad(record: number, reason: string, raw: Buffer, size: number): void {
    this.#handler.onBadRecord({
      record,
      offset: this.#recordStart,
      reason,
      raw: Buffer.from(raw.subarray(0, RAW_KEEP_BYTES)),
      size,
    });
  }

  #fail(reason: string): never {
    this.#failure = new FramingError(this.#input, this.#partStart, reason);
    throw this.#failure;
  }
}

/**
 * Reads RecordIO framing. A single-part record wholly inside one chunk is passed as a view of that
 * chunk; other records are assembled, and a record over `maxRecordBytes` is never held.
 */
export const createRecordIoReader: ReaderFactory = (handler, options) => new RecordIoReader(handler, options);

export const recordIoFramer: RecordFramer = {
  frame(data: Buffer): Buffer {
    if (data.length > LENGTH_MASK) {
      throw new RangeError(`a RecordIO record holds at most ${LENGTH_MASK} bytes, got ${data.length}`);
    }
    const cuts: number[] = [];
    for (let i = 0; i + 4 <= data.length; i += 4) {
      if (data.readUInt32LE(i) === RECORDIO_MAGIC) cuts.push(i);
    }
    const parts: { flag: number; start: number; end: number }[] = [];
    let start = 0;
    for (const cut of cuts) {
      parts.push({ flag: start === 0 ? FLAG_FIRST : FLAG_MIDDLE, start, end: cut });
      start = cut + MAGIC_BYTES.length;
    }
    parts.push({ flag: cuts.length > 0 ? FLAG_LAST : FLAG_WHOLE, start, end: data.length });

    let size = 0;
    for (const part of parts) size += HEADER_BYTES + part.end - part.start + padding(part.end - part.start);
    const out = Buffer.alloc(size);
    let pos = 0;
    for (const part of parts) {
      const length = part.end - part.start;
      out.writeUInt32LE(RECORDIO_MAGIC, pos);
      out.writeUInt32LE(((part.flag << 29) | length) >>> 0, pos + 4);
      data.copy(out, pos + HEADER_BYTES, part.start, part.end);
      pos += HEADER_BYTES + length + padding(length);
    }
    return out;
  },
};

export function encodeRecordIo(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((payload) => recordIoFramer.frame(payload)));
}
