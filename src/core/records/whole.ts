import { recordTooLarge } from './limits.ts';
import type { ReaderOptions, RecordHandler, RecordReader } from './types.ts';
import { RAW_KEEP_BYTES } from './types.ts';

/** SplitType None: the whole input is one record (kept in memory only up to the record limit). */
export function createWholeReader(handler: RecordHandler, options: ReaderOptions): RecordReader {
  const pieces: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      if (size + chunk.length <= options.maxRecordBytes) pieces.push(Buffer.from(chunk));
      else if (size < RAW_KEEP_BYTES) pieces.push(Buffer.from(chunk.subarray(0, RAW_KEEP_BYTES - size)));
      size += chunk.length;
    },
    end() {
      if (size === 0) return;
      const data = Buffer.concat(pieces);
      if (size > options.maxRecordBytes) {
        const reason = recordTooLarge(size, options.maxRecordBytes);
        handler.onBadRecord({ record: 1, offset: 0, reason, raw: data.subarray(0, RAW_KEEP_BYTES), size });
      } else {
        handler.onRecord(data, 1, 0);
      }
    },
  };
}
