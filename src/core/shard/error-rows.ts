import { RAW_KEEP_BYTES } from '../records/types.ts';

/** One row of `_errors.jsonl`: which record of which input could not be scored, and why. */
export interface ErrorRow {
  readonly input: string;
  readonly record: number;
  readonly line?: number;
  readonly offset?: number;
  readonly reason: string;
  /** The record's bytes (the first 4 KiB of them), as text, or base64 for binary framings. */
  readonly raw: string;
  readonly rawEncoding?: 'base64';
  /** The record's size in bytes. */
  readonly size: number;
}

export function errorRow(
  input: string,
  record: number,
  position: number,
  binary: boolean,
  reason: string,
  raw: Uint8Array,
  size: number,
): ErrorRow {
  const kept = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.length, RAW_KEEP_BYTES));
  return binary
    ? { input, record, offset: position, reason, raw: kept.toString('base64'), rawEncoding: 'base64', size }
    : { input, record, line: position, reason, raw: kept.toString('utf8'), size };
}
