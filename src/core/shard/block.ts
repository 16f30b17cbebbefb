import { InvalidRecordError } from '../errors.ts';
import type { Selected } from '../json/path.ts';
import { recordTooLarge } from '../records/limits.ts';
import type { RecordFramer } from '../records/types.ts';
import { RAW_KEEP_BYTES } from '../records/types.ts';
import type { SplitType } from '../spec/split-types.ts';
import { type ErrorRow, errorRow, type PositionKind } from './error-rows.ts';
import { createInstanceEncoder, type Decoding } from './instances.ts';

/** What a block encoder needs to know; plain data, so it can be sent to a worker thread. */
export interface EncodeSettings {
  readonly input: string;
  readonly splitType: SplitType;
  readonly decoding: Decoding;
  readonly inputFilter?: string;
  readonly maxRecordBytes: number;
  readonly requestPerLine: boolean;
}

/**
 * Framed records, copied back to back, with their numbers and positions: the unit of work that is
 * encoded inline or in a worker thread. Records that could not be framed travel with their reason,
 * so errors keep input order.
 */
export interface RecordBlock {
  readonly data: Uint8Array;
  readonly ends: Int32Array;
  readonly numbers: Int32Array;
  /** 1-based line (text framings) or byte offset (binary ones) where each record starts. */
  readonly positions: Float64Array;
  /** Entries that are framing errors: their index, reason and full size. */
  readonly bad: { index: number; reason: string; size: number }[];
}

/**
 * The encoded records of one block: what goes to shards, and what goes to `_errors.jsonl`. `ends` and
 * `numbers` are views of the block's index buffer, given back to its pool once the block is used.
 */
export interface EncodedBlock {
  /** One line (TFS instance) or one framed record per sent record, back to back. */
  readonly encoded: Uint8Array;
  readonly ends: Int32Array;
  /** Record numbers of the sent records. */
  readonly numbers: Int32Array;
  /** `_errors.jsonl` rows, in record order. */
  readonly errors: string;
  readonly quarantined: number[];
}

const NEWLINE = 0x0a;
const REQUEST_OPEN = Buffer.from('{"instances":[');
const REQUEST_CLOSE = Buffer.from(']}');

/**
 * Reuses the large buffers blocks travel in. Without it every block leaves a megabyte or two of
 * garbage that the collector frees late, and the process grows far past what it holds at once.
 */
export class BufferPool {
  readonly size: number;
  private readonly free: ArrayBuffer[] = [];

  constructor(size: number) {
    this.size = size;
  }

  take(): Buffer {
    const buffer = this.free.pop();
    return buffer ? Buffer.from(buffer) : Buffer.allocUnsafeSlow(this.size);
  }

  /** Gives a buffer back; buffers of another size (grown for a huge record) are left to the collector. */
  give(buffer: ArrayBufferLike): void {
    if (buffer.byteLength === this.size && this.free.length < 4 && buffer instanceof ArrayBuffer) {
      this.free.push(buffer);
    }
  }
}

/** Records a block's index holds before it grows; its pooled buffers are this size. */
const INDEX_RECORDS = 16_384;
/** Bytes of a record index: an Int32 end and number and a Float64 position per record. */
export const INDEX_BYTES = 16 * INDEX_RECORDS;

/**
 * A block's ends, numbers and positions as views of one buffer, so the index travels to a worker and
 * back as one transfer and is used again for a later block, instead of leaving garbage behind.
 */
function indexViews(buffer: ArrayBufferLike): Pick<RecordBlock, 'ends' | 'numbers' | 'positions'> {
  const records = buffer.byteLength / 16;
  return {
    ends: new Int32Array(buffer, 0, records),
    numbers: new Int32Array(buffer, 4 * records, records),
    positions: new Float64Array(buffer, 8 * records, records),
  };
}

/** Builds blocks on the reading thread; `take` hands over a full one. */
export class BlockBuilder {
  private data: Buffer;
  private used = 0;
  private ends: Int32Array;
  private numbers: Int32Array;
  private positions: Float64Array;
  private count = 0;
  private bad: { index: number; reason: string; size: number }[] = [];
  private readonly blockBytes: number;
  private readonly pool: BufferPool;
  private readonly indexes: BufferPool;

  /**
   * Blocks are handed over once they hold `blockBytes`; the pool's buffers leave room for one more
   * record. `indexes` holds buffers of INDEX_BYTES for the blocks' record indexes.
   */
  constructor(blockBytes: number, pool: BufferPool, indexes: BufferPool) {
    this.blockBytes = blockBytes;
    this.pool = pool;
    this.indexes = indexes;
    this.data = pool.take();
    ({
      ends: this.ends,
      numbers: this.numbers,
      positions: this.positions,
    } = indexViews(indexes.take().buffer));
  }

  get length(): number {
    return this.count;
  }

  /** Whether the block should be handed over before more is added. */
  get full(): boolean {
    return this.used >= this.blockBytes || this.count >= 65536;
  }

  add(record: Buffer, number: number, position: number): void {
    if (this.used + record.length > this.data.length) this.growData(this.used + record.length);
    if (this.count === this.ends.length) this.growIndex();
    record.copy(this.data, this.used);
    this.used += record.length;
    this.ends[this.count] = this.used;
    this.numbers[this.count] = number;
    this.positions[this.count] = position;
    this.count++;
  }

  addBad(raw: Buffer, number: number, position: number, reason: string, size: number): void {
    this.bad.push({ index: this.count, reason, size });
    this.add(raw.length > RAW_KEEP_BYTES ? raw.subarray(0, RAW_KEEP_BYTES) : raw, number, position);
  }

  /** The block built so far; its index buffer is the caller's to give back once the block is encoded. */
  take(): RecordBlock {
    const block: RecordBlock = {
      data: new Uint8Array(this.data.buffer, this.data.byteOffset, this.used),
      ends: this.ends.subarray(0, this.count),
      numbers: this.numbers.subarray(0, this.count),
      positions: this.positions.subarray(0, this.count),
      bad: this.bad,
    };
    this.data = this.pool.take();
    ({
      ends: this.ends,
      numbers: this.numbers,
      positions: this.positions,
    } = indexViews(this.indexes.take().buffer));
    this.used = 0;
    this.count = 0;
    this.bad = [];
    return block;
  }

  private growData(needed: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(needed, this.data.length * 2));
    this.data.copy(next, 0, 0, this.used);
    this.data = next;
  }

  /** A larger index than the pool's, for a block of many small records; it is not pooled. */
  private growIndex(): void {
    const larger = indexViews(new ArrayBuffer(32 * this.ends.length));
    larger.ends.set(this.ends);
    larger.numbers.set(this.numbers);
    larger.positions.set(this.positions);
    ({ ends: this.ends, numbers: this.numbers, positions: this.positions } = larger);
  }
}

/**
 * Encodes a block's records into shard bytes and error rows. Pure: runs inline or in a worker. The
 * encoded bytes are written into a buffer from `pool` when they fit.
 */
export async function createBlockEncoder(
  settings: EncodeSettings,
  pool: BufferPool,
): Promise<(block: RecordBlock) => EncodedBlock> {
  const encode = await createInstanceEncoder(
    settings.decoding,
    settings.inputFilter,
    settings.splitType === 'None',
  );
  const framer = settings.decoding === 'none' ? await framerFor(settings.splitType) : undefined;
  const wrap = settings.decoding !== 'none' && settings.requestPerLine;
  const positions = positionKind(settings);
  const selected: Selected = { bytes: Buffer.alloc(0), start: 0, end: 0 };
  const limit = settings.maxRecordBytes;

  return (block) => {
    const data = Buffer.from(block.data.buffer, block.data.byteOffset, block.data.length);
    const out = new Output(pool);
    // The sent records' ends and numbers overwrite the block's own, which are read before (sent <= index).
    const { ends, numbers } = block;
    let sent = 0;
    let errors = '';
    const quarantined: number[] = [];
    const badByIndex = new Map(block.bad.map((bad) => [bad.index, bad]));

    const quarantine = (index: number, record: Buffer, reason: string, size: number): void => {
      const number = block.numbers[index] as number;
      const position = block.positions[index] as number;
      const row: ErrorRow = errorRow(settings.input, number, position, positions, reason, record, size);
      errors += `${JSON.stringify(row)}\n`;
      quarantined.push(number);
    };

    let start = 0;
    for (let index = 0; index < block.ends.length; index++) {
      const end = block.ends[index] as number;
      const record = data.subarray(start, end);
      start = end;
      const bad = badByIndex.get(index);
      if (bad) {
        quarantine(index, record, bad.reason, bad.size);
        continue;
      }
      try {
        encode(record, selected);
      } catch (error) {
        if (!(error instanceof InvalidRecordError)) throw error;
        quarantine(index, record, error.message, record.length);
        continue;
      }
      const mark = out.length;
      if (framer) {
        out.append(framer.frame(selected.bytes.subarray(selected.start, selected.end)));
      } else {
        if (wrap) out.append(REQUEST_OPEN);
        out.appendRange(selected.bytes, selected.start, selected.end);
        if (wrap) out.append(REQUEST_CLOSE);
        out.appendByte(NEWLINE);
      }
      const size = out.length - mark;
      if (size > limit) {
        out.length = mark;
        quarantine(index, record, recordTooLarge(size, limit, { encoded: true }), record.length);
        continue;
      }
      ends[sent] = out.length;
      numbers[sent] = block.numbers[index] as number;
      sent++;
    }
    return {
      encoded: out.bytes(),
      ends: ends.subarray(0, sent),
      numbers: numbers.subarray(0, sent),
      errors,
      quarantined,
    };
  };
}

/** What the position of each record counts: Parquet's row groups, lines of text, bytes of binary framings. */
function positionKind(settings: EncodeSettings): PositionKind {
  if (settings.decoding === 'parquet') return 'rowGroup';
  return settings.splitType === 'RecordIO' || settings.splitType === 'TFRecord' ? 'offset' : 'line';
}

/** Records that keep their own framing; lines are written one per line, like instances. */
async function framerFor(splitType: SplitType): Promise<RecordFramer | undefined> {
  switch (splitType) {
    case 'Line':
      return undefined;
    case 'TFRecord':
      return (await import('../records/tfrecord.ts')).tfRecordFramer;
    case 'RecordIO':
      return (await import('../records/recordio.ts')).recordIoFramer;
    case 'None':
      return { frame: (data) => data };
  }
}

/** A growable byte buffer for one block's output. */
class Output {
  private buffer: Buffer;
  length = 0;

  constructor(pool: BufferPool) {
    this.buffer = pool.take();
  }

  append(bytes: Buffer): void {
    this.appendRange(bytes, 0, bytes.length);
  }

  appendRange(bytes: Buffer, start: number, end: number): void {
    const length = end - start;
    this.reserve(length);
    if (length < 48) {
      const buffer = this.buffer;
      let at = this.length;
      for (let i = start; i < end; i++) buffer[at++] = bytes[i] as number;
    } else {
      bytes.copy(this.buffer, this.length, start, end);
    }
    this.length += length;
  }

  appendByte(byte: number): void {
    this.reserve(1);
    this.buffer[this.length++] = byte;
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.length);
  }

  private reserve(length: number): void {
    if (this.length + length <= this.buffer.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.length + length, this.buffer.length * 2));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }
}
