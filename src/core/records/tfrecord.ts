/**
 * TFRecord framing: uint64 LE length, uint32 LE masked CRC32C of the length bytes, the data, and
 * uint32 LE masked CRC32C of the data.
 */

import { FramingError } from '../errors.ts';
import { crc32c } from './crc32c.ts';
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

const LENGTH_BYTES = 8;
const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;
const MASK_DELTA = 0xa282ead8;

/** CRC32C rotated and offset as TensorFlow stores it, so that CRCs of data holding CRCs stay strong. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

type State = 'header' | 'body' | 'skip';

class TfRecordReader implements RecordReader {
  readonly #handler: RecordHandler;
  readonly #input: string;
  readonly #maxRecordBytes: number;

  #state: State = 'header';
  /** Bytes of input before the current chunk. */
  #consumed = 0;
  /** Number of the last record whose header was read. */
  #record = 0;
  #recordStart = 0;
  #failure: FramingError | undefined;

  readonly #header = new HeaderReader(HEADER_BYTES, (header) => this.#onHeader(header));

  /** Data length of the current record; only exact while it is within maxRecordBytes. */
  #length = 0;
  #claimed = 0n;

  /** Data and data CRC of a record that straddles chunks. */
  #body: Buffer | undefined;
  #bodyFill = 0;

  /** State of an oversized record being skipped. */
  #skipRemaining = 0;
  #raw: Buffer | undefined;
  #rawFill = 0;

  constructor(handler: RecordHandler, options: ReaderOptions) {
    this.#handler = handler;
    this.#input = options.input;
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  push(chunk: Buffer): void {
    if (this.#failure) throw this.#failure;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#state === 'header') pos = this.#readHeader(chunk, pos);
      else if (this.#state === 'body') pos = this.#readBody(chunk, pos);
      else pos = this.#skip(chunk, pos);
    }
    this.#consumed += chunk.length;
  }

  end(): void {
    if (this.#failure) throw this.#failure;
    const got = this.#consumed - this.#recordStart;
    if (this.#state === 'header') {
      if (!this.#header.atStart) {
        this.#bad(
          this.#record + 1,
          `truncated TFRecord: expected ${HEADER_BYTES} bytes, got ${got}`,
          this.#header.partial(),
          got,
        );
      }
    } else if (this.#state === 'body') {
      const expected = HEADER_BYTES + this.#length + FOOTER_BYTES;
      const data = this.#body?.subarray(0, Math.min(this.#bodyFill, this.#length)) ?? Buffer.alloc(0);
      this.#bad(this.#record, `truncated TFRecord: expected ${expected} bytes, got ${got}`, data, got);
    } else {
      const expected = BigInt(HEADER_BYTES + FOOTER_BYTES) + this.#claimed;
      this.#bad(
        this.#record,
        `truncated TFRecord: expected ${expected} bytes, got ${got}; ${recordTooLarge(this.#claimed, this.#maxRecordBytes)}`,
        this.#keptRaw(),
        got,
      );
    }
    this.#reset();
  }

  #readHeader(chunk: Buffer, pos: number): number {
    if (this.#header.atStart) this.#recordStart = this.#consumed + pos;
    return this.#header.read(chunk, pos);
  }

  #onHeader(header: Buffer): void {
    this.#record += 1;
    if (maskedCrc32c(header.subarray(0, LENGTH_BYTES)) !== header.readUInt32LE(LENGTH_BYTES)) {
      this.#failure = new FramingError(
        this.#input,
        this.#recordStart,
        `TFRecord length CRC mismatch in record ${this.#record}`,
      );
      throw this.#failure;
    }
    this.#claimed = header.readBigUInt64LE(0);
    if (this.#claimed > BigInt(this.#maxRecordBytes)) {
      this.#state = 'skip';
      // Past 2^53 the count is approximate, but no input is long enough for that to matter.
      this.#skipRemaining = Number(this.#claimed) + FOOTER_BYTES;
      this.#raw = undefined;
      this.#rawFill = 0;
    } else {
      this.#state = 'body';
      this.#length = Number(this.#claimed);
      this.#body = undefined;
      this.#bodyFill = 0;
    }
  }

  #readBody(chunk: Buffer, pos: number): number {
    const need = this.#length + FOOTER_BYTES;
    if (this.#bodyFill === 0 && chunk.length - pos >= need) {
      this.#finishRecord(chunk.subarray(pos, pos + this.#length), chunk.readUInt32LE(pos + this.#length));
      return pos + need;
    }
    this.#body ??= Buffer.allocUnsafe(need);
    const n = Math.min(need - this.#bodyFill, chunk.length - pos);
    chunk.copy(this.#body, this.#bodyFill, pos, pos + n);
    this.#bodyFill += n;
    if (this.#bodyFill === need) {
      const body = this.#body;
      this.#body = undefined;
      this.#bodyFill = 0;
      this.#finishRecord(body.subarray(0, this.#length), body.readUInt32LE(this.#length));
    }
    return pos + n;
  }

  #finishRecord(data: Buffer, crc: number): void {
    this.#state = 'header';
    if (maskedCrc32c(data) === crc) {
      this.#handler.onRecord(data, this.#record, this.#recordStart);
    } else {
      this.#bad(this.#record, 'TFRecord data CRC mismatch', data.subarray(0, RAW_KEEP_BYTES), data.length);
    }
  }

  #skip(chunk: Buffer, pos: number): number {
    const n = Math.min(this.#skipRemaining, chunk.length - pos);
    const keep = Math.min(RAW_KEEP_BYTES, Number(this.#claimed)) - this.#rawFill;
    if (keep > 0) {
      this.#raw ??= Buffer.allocUnsafe(Math.min(RAW_KEEP_BYTES, Number(this.#claimed)));
      const k = Math.min(keep, n);
      chunk.copy(this.#raw, this.#rawFill, pos, pos + k);
      this.#rawFill += k;
    }
    this.#skipRemaining -= n;
    if (this.#skipRemaining === 0) {
      this.#state = 'header';
      this.#bad(
        this.#record,
        recordTooLarge(this.#claimed, this.#maxRecordBytes),
        this.#keptRaw(),
        Number(this.#claimed),
      );
      this.#raw = undefined;
    }
    return pos + n;
  }

  #keptRaw(): Buffer {
    return this.#raw?.subarray(0, this.#rawFill) ?? Buffer.alloc(0);
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

  #reset(): void {
    this.#state = 'header';
    this.#header.clear();
    this.#body = undefined;
    this.#bodyFill = 0;
    this.#raw = undefined;
    this.#rawFill = 0;
  }
}

/**
 * Reads TFRecord framing. A record wholly inside one chunk is passed as a view of that chunk; only
 * records that straddle chunks are assembled, and a record over `maxRecordBytes` is never held.
 */
export const createTfRecordReader: ReaderFactory = (handler, options) => new TfRecordReader(handler, options);

export const tfRecordFramer: RecordFramer = {
  frame(data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(HEADER_BYTES + data.length + FOOTER_BYTES);
    out.writeBigUInt64LE(BigInt(data.length), 0);
    out.writeUInt32LE(maskedCrc32c(out.subarray(0, LENGTH_BYTES)), LENGTH_BYTES);
    data.copy(out, HEADER_BYTES);
    out.writeUInt32LE(maskedCrc32c(data), HEADER_BYTES + data.length);
    return out;
  },
};

export function encodeTfRecords(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((payload) => tfRecordFramer.frame(payload)));
}
