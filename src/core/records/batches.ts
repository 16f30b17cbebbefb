import { RecordTooLargeError } from '../errors.ts';
import type { SplitType } from '../spec/split-types.ts';
import { recordIoFramer } from './recordio.ts';
import { tfRecordFramer } from './tfrecord.ts';
import type { RecordFramer } from './types.ts';

/** One request's worth of records: their numbers within the input (1-based) and the request body. */
export interface Batch {
  readonly first: number;
  readonly last: number;
  readonly body: Buffer;
}

export interface PackerOptions {
  /** The most bytes one request body may hold. */
  readonly limit: number;
  /** MultiRecord: as many records as fit under the limit; SingleRecord: one per request. */
  readonly multiRecord: boolean;
  /** Frames each record again (TFRecord, RecordIO); records go bare without one. */
  readonly framer?: RecordFramer;
  /** A byte written between two records of one request (a newline for Line split). */
  readonly separator?: number;
}

const INITIAL_CAPACITY = 64 * 1024;
const NEWLINE = 0x0a;

/** How records of a split type go into a request: lines joined by newlines, framed records, or bare. */
export function packerOptionsFor(splitType: SplitType, limit: number, multiRecord: boolean): PackerOptions {
  const base = { limit, multiRecord };
  switch (splitType) {
    case 'Line':
      return { ...base, separator: NEWLINE };
    case 'TFRecord':
      return { ...base, framer: tfRecordFramer };
    case 'RecordIO':
      return { ...base, framer: recordIoFramer };
    case 'None':
      return base;
  }
}

/**
 * Packs records into request bodies as SageMaker's batch strategies do, copying each record once. A
 * record that cannot fit in a request on its own is a RecordTooLargeError.
 */
export class BatchPacker {
  readonly #options: PackerOptions;
  #buffer = Buffer.alloc(0);
  #used = 0;
  #first = 0;
  #last = 0;
  /** The size of the last body sealed: where the next one's buffer starts, so it rarely grows. */
  #hint = INITIAL_CAPACITY;
  #ready: Batch[] = [];

  constructor(options: PackerOptions) {
    this.#options = options;
  }

  /** Adds a record; `data` is only read during the call. */
  add(data: Buffer, record: number): void {
    const { framer, limit, separator } = this.#options;
    const framed = framer ? framer.frame(data) : data;
    if (framed.length > limit) throw new RecordTooLargeError(record, framed.length, limit);
    if (!this.#options.multiRecord) {
      this.#ready.push({ first: record, last: record, body: framer ? framed : Buffer.from(framed) });
      return;
    }
    const gap = separator === undefined ? 0 : 1;
    if (this.#first > 0 && this.#used + gap + framed.length > limit) this.#seal();
    if (this.#first > 0 && separator !== undefined) {
      this.#reserve(this.#used + 1 + framed.length);
      this.#buffer[this.#used++] = separator;
    } else {
      this.#reserve(this.#used + framed.length);
    }
    this.#used += framed.copy(this.#buffer, this.#used);
    if (this.#first === 0) this.#first = record;
    this.#last = record;
  }

  /** The input ended: the records still held become the last request. */
  finish(): void {
    if (this.#first > 0) this.#seal();
  }

  /** The requests packed since the last call, in input order. */
  take(): Batch[] {
    const ready = this.#ready;
    this.#ready = [];
    return ready;
  }

  #reserve(size: number): void {
    if (size <= this.#buffer.length) return;
    const capacity = Math.min(this.#options.limit, Math.max(size, this.#hint, this.#buffer.length * 2));
    const grown = Buffer.allocUnsafe(capacity);
    this.#buffer.copy(grown, 0, 0, this.#used);
    this.#buffer = grown;
  }

  #seal(): void {
    this.#ready.push({ first: this.#first, last: this.#last, body: this.#buffer.subarray(0, this.#used) });
    this.#hint = Math.max(this.#used, INITIAL_CAPACITY);
    this.#buffer = Buffer.alloc(0);
    this.#used = 0;
    this.#first = 0;
  }
}
