import { RAW_KEEP_BYTES } from '../records/types.ts';

/** One row of `_errors.jsonl`: which record of which input could not be scored, and why. */
export interface ErrorRow {
  readonly input: string;
  readonly record: number;
  readonly line?: number;
  readonly offset?: number;
  /** A Parquet record's row group, counted from 0. */
  readonly rowGroup?: number;
  readonly reason: string;
  /** The record's bytes (the first 4 KiB of them), as text, or base64 for binary framings. */
  readonly raw: string;
  readonly rawEncoding?: 'base64';
  /** The record's size in bytes. */
  readonly size: number;
}

/** What a record's position counts: a line (text framings), a byte offset (binary ones), a row group (Parquet). */
export type PositionKind = 'line' | 'offset' | 'rowGroup';

export function errorRow(
  input: string,
  record: number,
  position: number,
  kind: PositionKind,
  reason: string,
  raw: Uint8Array,
  size: number,
): ErrorRow {
  const kept = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.length, RAW_KEEP_BYTES));
  return kind === 'offset'
    ? { input, record, offset: position, reason, raw: kept.toString('base64'), rawEncoding: 'base64', size }
    : { input, record, [kind]: position, reason, raw: kept.toString('utf8'), size };
}
