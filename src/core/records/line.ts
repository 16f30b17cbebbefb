import { isUtf8 } from 'node:buffer';
import { recordTooLarge } from './limits.ts';
import type { ReaderOptions, RecordHandler, RecordReader } from './types.ts';
import { RAW_KEEP_BYTES } from './types.ts';

const LF = 0x0a;
const CR = 0x0d;
const CARRY_KEEP_BYTES = 4 << 20;

export interface LineReaderOptions extends ReaderOptions {
  /** Quarantine lines that are not valid UTF-8. */
  readonly utf8: boolean;
}

/**
 * Splits a byte stream into lines (LF or CRLF; the last line may lack its newline). Empty lines are
 * skipped, not records. A line wholly inside one chunk is passed as a view, without copying; a line
 * longer than `maxRecordBytes` is quarantined without being held in memory.
 */
export function createLineReader(handler: RecordHandler, options: LineReaderOptions): RecordReader {
  const { maxRecordBytes, utf8 } = options;
  let line = 0;
  let record = 0;
  // A line that started in an earlier chunk: its bytes so far (only the first ones once it is too long)
  // in a buffer used again for the next such line, and its full length so far.
  let carry = Buffer.alloc(0);
  let held = 0;
  let pendingBytes = 0;

  // Whether the lines now being emitted were already found valid UTF-8 as a block.
  let verified = false;

  // Whether the last byte held for the pending line is CR (it may end the line, before its LF).
  let pendingCR = false;

  /**
   * One physical line: `data` holds it (or only its first bytes when it is too long), `size` is its full
   * length and `cr` tells whether its last byte is CR. The record is the line without that CR, so a
   * line's size does not depend on whether the input uses LF or CRLF.
   */
  const emit = (data: Buffer, size: number, cr: boolean): void => {
    line++;
    const recordSize = cr ? size - 1 : size;
    if (recordSize === 0) {
      handler.onSkipped(line);
      return;
    }
    record++;
    if (recordSize > maxRecordBytes) {
      handler.onBadRecord({
        record,
        line,
        reason: recordTooLarge(recordSize, maxRecordBytes),
        raw: data.subarray(0, Math.min(recordSize, RAW_KEEP_BYTES)),
        size: recordSize,
      });
      return;
    }
    const content = recordSize === data.length ? data : data.subarray(0, recordSize);
    if (utf8 && !verified && !isUtf8(content)) {
      handler.onBadRecord({
        record,
        line,
        reason: 'invalid UTF-8',
        raw: keep(content),
        size: content.length,
      });
      return;
    }
    handler.onRecord(content, record, line);
  };

  const hold = (piece: Buffer): void => {
    const keep = Math.min(piece.length, Math.max(0, maxRecordBytes + 2 - pendingBytes));
    if (held + keep > carry.length) {
      const larger = Buffer.allocUnsafe(Math.max(held + keep, 2 * carry.length));
      carry.copy(larger, 0, 0, held);
      carry = larger;
    }
    held += piece.copy(carry, held, 0, keep);
    if (piece.length > 0) pendingCR = piece[piece.length - 1] === CR;
    pendingBytes += piece.length;
  };

  const emitHeld = (): void => {
    const size = pendingBytes;
    const bytes = held;
    pendingBytes = 0;
    held = 0;
    emit(carry.subarray(0, bytes), size, pendingCR);
    // A line far longer than the others is not kept in memory for the rest of the input.
    if (carry.length > CARRY_KEEP_BYTES) carry = Buffer.alloc(0);
  };

  return {
    push(chunk) {
      let start = 0;
      let newline = chunk.indexOf(LF, start);
      if (pendingBytes > 0 && newline !== -1) {
        hold(chunk.subarray(0, newline));
        emitHeld();
        start = newline + 1;
        newline = chunk.indexOf(LF, start);
      }
      // A newline byte never occurs inside a UTF-8 sequence, so whole lines can be checked as one block.
      verified = utf8 && newline !== -1 && isUtf8(chunk.subarray(start, chunk.lastIndexOf(LF)));
      while (newline !== -1) {
        emit(chunk.subarray(start, newline), newline - start, newline > start && chunk[newline - 1] === CR);
        start = newline + 1;
        newline = chunk.indexOf(LF, start);
      }
      verified = false;
      if (start < chunk.length) hold(chunk.subarray(start));
    },
    end() {
      if (pendingBytes > 0) emitHeld();
    },
  };
}

function keep(data: Buffer): Buffer {
  return data.length > RAW_KEEP_BYTES ? data.subarray(0, RAW_KEEP_BYTES) : data;
}
