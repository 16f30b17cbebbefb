import type { BadRecord, RecordHandler } from '../../src/core/records/types.ts';

/** What a record reader reported, copied out of the chunks it was given. */
export interface Seen {
  records: { data: Buffer; record: number; line: number }[];
  bad: BadRecord[];
  skipped: number[];
}

export function collector(): { handler: RecordHandler; seen: Seen } {
  const seen: Seen = { records: [], bad: [], skipped: [] };
  const handler: RecordHandler = {
    onRecord(data, record, line) {
      seen.records.push({ data: Buffer.from(data), record, line });
    },
    onBadRecord(bad) {
      seen.bad.push({ ...bad, raw: Buffer.from(bad.raw) });
    },
    onSkipped(line) {
      seen.skipped.push(line);
    },
  };
  return { handler, seen };
}

/** Cuts bytes into chunks of the given sizes, used in turn (all of it at once when none are given). */
export function chunksOf(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  let k = 0;
  while (at < bytes.length) {
    const size = sizes.length === 0 ? bytes.length : (sizes[k++ % sizes.length] ?? 1);
    chunks.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}
