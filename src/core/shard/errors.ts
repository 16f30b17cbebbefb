import type { BadRecord } from '../records/types.ts';

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

export function errorRowFor(input: string, bad: BadRecord, binary: boolean): ErrorRow {
  const where = bad.line !== undefined ? { line: bad.line } : bad.offset !== undefined ? { offset: bad.offset } : {};
  const raw = binary ? { raw: bad.raw.toString('base64'), rawEncoding: 'base64' as const } : { raw: bad.raw.toString('utf8') };
  return { input, record: bad.record, ...where, reason: bad.reason, ...raw, size: bad.size };
}
