import {
  type ShardEntry,
  type ShardIndex,
  type ShardOptions,
  shardInput,
} from '../../src/core/shard/sharder.ts';
import { chunks, jsonLines, MemoryObjects } from './memory.ts';

export const shardName = (shard: number): string => `work/shard-${shard}`;
export const ERRORS = 'work/errors.jsonl';

/** Text lines, each ended with LF. */
export const linesOf = (...lines: string[]): string => lines.map((line) => `${line}\n`).join('');

/** One row of `_errors.jsonl` as a reader of it sees it. */
export interface ErrorRowSeen {
  input: string;
  record: number;
  line?: number;
  offset?: number;
  rowGroup?: number;
  reason: string;
  raw: string;
  rawEncoding?: 'base64';
  size: number;
}

export interface Sharded {
  index: ShardIndex;
  /** Each shard's bytes, in shard order. */
  shards: Buffer[];
  errors: ErrorRowSeen[];
  objects: MemoryObjects;
}

export type ShardSettings = Partial<ShardOptions> & Pick<ShardOptions, 'splitType' | 'decoding'>;

/** Options of one test input: named `in`, limits large enough not to matter unless a test sets them. */
export function shardOptions(settings: ShardSettings): ShardOptions {
  return { input: 'in', maxRecordBytes: 1 << 20, requestPerLine: false, shardBytes: 1 << 20, ...settings };
}

/** Shards a source into memory objects: shards named by `shardName`, errors in `work/errors.jsonl`. */
export async function shardInto(
  objects: MemoryObjects,
  source: AsyncIterable<Buffer>,
  settings: ShardSettings,
  shard: typeof shardInput = shardInput,
): Promise<ShardIndex> {
  return shard(source, shardOptions(settings), {
    openShard: (n) => objects.sink(shardName(n)),
    errors: await objects.sink(ERRORS),
  });
}

/** Shards `input`, streamed in chunks of the given sizes, into memory objects. */
export async function shardToMemory(
  input: Buffer,
  settings: ShardSettings,
  chunkSizes: readonly number[] = [65_536],
  shard: typeof shardInput = shardInput,
): Promise<Sharded> {
  const objects = new MemoryObjects();
  const index = await shardInto(objects, chunks(input, chunkSizes), settings, shard);
  return {
    index,
    shards: index.shards.map((entry) => objects.get(shardName(entry.shard))),
    errors: jsonLines(objects.text(ERRORS)) as ErrorRowSeen[],
    objects,
  };
}

/** The first `failAt` bytes of `input` in chunks of `chunk` bytes, then a dropped connection. */
export async function* failingSource(input: Buffer, failAt: number, chunk: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < failAt; at += chunk) yield input.subarray(at, Math.min(at + chunk, failAt));
  throw new Error('connection reset by peer');
}

/**
 * How lines (without their newline) are grouped into shards: a shard ends at the first line end at
 * or after `shardBytes`. The texts of the shards, and their entries in the index.
 */
export function expectedShards(
  lines: readonly string[],
  shardBytes: number,
): { texts: string[]; entries: ShardEntry[] } {
  const texts: string[] = [];
  const entries: ShardEntry[] = [];
  let current = '';
  let records = 0;
  lines.forEach((line, k) => {
    current += `${line}\n`;
    records++;
    if (Buffer.byteLength(current) >= shardBytes || k === lines.length - 1) {
      const bytes = Buffer.byteLength(current);
      entries.push({ shard: entries.length, firstRecord: k + 2 - records, records, bytes });
      texts.push(current);
      current = '';
      records = 0;
    }
  });
  return { texts, entries };
}
