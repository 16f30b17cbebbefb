/**
 * Streaming record framing. A reader is pushed chunks of any size and calls its handler once per
 * record, synchronously, so the caller can apply back-pressure between chunks and memory stays flat.
 */

/** A record that cannot be read. It is quarantined; its neighbours are still read. */
export interface BadRecord {
  /** 1-based record number within the input (empty lines are not records). */
  readonly record: number;
  /** 1-based physical line where the record starts (text framings). */
  readonly line?: number;
  /** Byte offset where the record starts (binary framings). */
  readonly offset?: number;
  readonly reason: string;
  /** The record's bytes, or the first of them when the record is too large to keep. */
  readonly raw: Buffer;
  /** The record's full size in bytes. */
  readonly size: number;
}

export interface RecordHandler {
  /**
   * One well-framed record. `data` is the payload without framing (no newline, no length or CRC) and
   * is only valid during the call: copy it to keep it. `position` is the 1-based line where the record
   * starts for text framings and its byte offset for binary ones.
   */
  onRecord(data: Buffer, record: number, position: number): void;
  onBadRecord(bad: BadRecord): void;
  /** An empty line: not a record, counted as skipped. */
  onSkipped(line: number): void;
}

export interface RecordReader {
  push(chunk: Buffer): void;
  /** The input ended: flush the last record or report what is truncated. */
  end(): void;
}

export interface ReaderOptions {
  /** Name of the input, used in error messages. */
  readonly input: string;
  /** A record larger than this is quarantined without being held in memory. */
  readonly maxRecordBytes: number;
}

/**
 * Records pulled from an input into a handler, a step at a time: each step reads some of the input
 * and calls the handler for the records it holds, and the caller writes out what they became before
 * asking for the next step, so memory stays flat. The iteration ends with the input.
 */
export type RecordSource = (handler: RecordHandler) => AsyncIterable<void>;

/** The records a framing reader finds in a stream of chunks, a chunk per step. */
export async function* framedRecords(
  chunks: AsyncIterable<Buffer>,
  reader: RecordReader,
): AsyncGenerator<void> {
  for await (const chunk of chunks) {
    reader.push(chunk);
    yield;
  }
  reader.end();
}

export type ReaderFactory = (handler: RecordHandler, options: ReaderOptions) => RecordReader;

/** Writes records back in a framing, for shards that keep the original format. */
export interface RecordFramer {
  /** The framed bytes of one record payload. */
  frame(data: Buffer): Buffer;
}

/** How much of a bad record is kept in `_errors.jsonl`. */
export const RAW_KEEP_BYTES = 4096;
