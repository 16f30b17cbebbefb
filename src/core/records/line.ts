import { isUtf8 } from 'node:buffer';
import type { ReaderOptions, RecordHandler, RecordReader } from './types.ts';
import { RAW_KEEP_BYTES } from './types.ts';

const LF = 0x0a;
const CR = 0x0d;

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
  // A line that started in an earlier chunk: its pieces, or only its first bytes once it is too long.
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  // Whether the lines now being emitted were already found valid UTF-8 as a block.
  let verified = false;

  const emit = (data: Buffer, size: number): void => {
    line++;
    let end = data.length;
    if (end > 0 && data[end - 1] === CR) end--;
    if (end === 0 && size <= 1) {
      handler.onSkipped(line);
      return;
    }
    record++;
    if (size > maxRecordBytes) {
      handler.onBadRecord({
        record,
        line,
        reason: `line is ${size} bytes, over the record limit of ${maxRecordBytes} bytes`,
        raw: data.subarray(0, Math.min(end, RAW_KEEP_BYTES)),
        size,
      });
      return;
    }
    const content = end === data.length ? data : data.subarray(0, end);
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
    const room = maxRecordBytes + 2 - pendingBytes;
    if (room > 0) pending.push(Buffer.from(piece.subarray(0, room)));
    pendingBytes += piece.length;
  };

  return {
    push(chunk) {
      let start = 0;
      let newline = chunk.indexOf(LF, start);
      if (pendingBytes > 0 && newline !== -1) {
        hold(chunk.subarray(0, newline));
        const size = pendingBytes;
        const joined = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        emit(joined, size);
        start = newline + 1;
        newline = chunk.indexOf(LF, start);
      }
      // A newline byte never occurs inside a UTF-8 sequence, so whole lines can be checked as one block.
      verified = utf8 && newline !== -1 && isUtf8(chunk.subarray(start, chunk.lastIndexOf(LF)));
      while (newline !== -1) {
        emit(chunk.subarray(start, newline), newline - start);
        start = newline + 1;
        newline = chunk.indexOf(LF, start);
      }
      verified = false;
      if (start < chunk.length) hold(chunk.subarray(start));
    },
    end() {
      if (pendingBytes > 0) {
        const size = pendingBytes;
        const joined = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        emit(joined, size);
      }
    },
  };
}

function keep(data: Buffer): Buffer {
  return data.length > RAW_KEEP_BYTES ? data.subarray(0, RAW_KEEP_BYTES) : data;
}
