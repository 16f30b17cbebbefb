import { InvalidRecordError } from '../errors.ts';
import type { ByteSink, ShardSinkFactory } from '../io.ts';
import { Staging } from '../io.ts';
import type { Selected } from '../json/path.ts';
import { createCsvReader } from '../records/csv.ts';
import { createLineReader } from '../records/line.ts';
import { createRecordIoReader, recordIoFramer } from '../records/recordio.ts';
import { createTfRecordReader, tfRecordFramer } from '../records/tfrecord.ts';
import type { BadRecord, RecordFramer, RecordHandler, RecordReader } from '../records/types.ts';
import { type ErrorRow, errorRowFor } from './errors.ts';
import { createInstanceEncoder, type Decoding } from './instances.ts';
import { createWholeReader } from './whole.ts';

export type SplitType = 'Line' | 'RecordIO' | 'TFRecord' | 'None';

export interface ShardOptions {
  /** The input's key, as errors name it. */
  readonly input: string;
  readonly splitType: SplitType;
  readonly decoding: Decoding;
  readonly csvHeader?: boolean;
  readonly inputFilter?: string;
  /** One request's limit (maxPayloadInMB): a larger record is quarantined. */
  readonly maxPayloadBytes: number;
  /** A shard is closed at the first record boundary at or after this many bytes. */
  readonly shardBytes: number;
  /**
   * Write each instance as its own TFS request (`{"instances":[x]}`) for SingleRecord jobs: the TFS
   * container reads a lone JSON Lines line as the whole `instances` value, not as one instance.
   */
  readonly requestPerLine?: boolean;
}

export interface ShardEntry {
  /** 0-based shard number; the shard's object is named by the caller's sink factory. */
  readonly shard: number;
  /** Record number (1-based) of the first record in the shard. */
  readonly firstRecord: number;
  readonly records: number;
  readonly bytes: number;
}

/** What the merge needs to put predictions back in input order, and the input's counts. */
export interface ShardIndex {
  readonly input: string;
  /** `instances`: JSON Lines of TFS instances; `original`: the records in their own framing. */
  readonly format: 'instances' | 'original';
  readonly shards: ShardEntry[];
  /** Records read (good and bad), empty lines skipped, records quarantined, records sent. */
  readonly records: { in: number; skipped: number; errors: number; sent: number };
  /** Record numbers of the quarantined records, ascending. */
  readonly quarantined: number[];
}

export interface ShardTargets {
  readonly openShard: ShardSinkFactory;
  /** Rows for `_errors.jsonl`, one JSON object per line. */
  readonly errors: ByteSink;
}

const NEWLINE = 0x0a;
const REQUEST_OPEN = Buffer.from('{"instances":[');
const REQUEST_CLOSE = Buffer.from(']}');

/**
 * Reads one input once, as a stream, and cuts it into shards at record boundaries: each good record
 * becomes one line (a TFS instance) or one framed record, each unreadable record a row in the errors
 * stream. Every record read ends up in exactly one of the two.
 */
export async function shardInput(
  source: AsyncIterable<Buffer>,
  options: ShardOptions,
  targets: ShardTargets,
): Promise<ShardIndex> {
  const encode = createInstanceEncoder(options.decoding, options.inputFilter);
  const format = options.decoding === 'none' ? 'original' : 'instances';
  const framer = format === 'original' ? framerFor(options.splitType) : undefined;
  const lineEnd = framer === undefined;
  const wrap = format === 'instances' && options.requestPerLine === true;
  const binary = options.splitType === 'RecordIO' || options.splitType === 'TFRecord';

  const shards: ShardEntry[] = [];
  const quarantined: number[] = [];
  const counts = { in: 0, skipped: 0, errors: 0, sent: 0 };
  let shard = { records: 0, bytes: 0, firstRecord: 0 };
  let staging = new Staging();
  const errors = new Staging();
  // Shards filled during one input chunk, waiting to be written out.
  const ready: { entry: ShardEntry; data: Staging }[] = [];
  const selected: Selected = { bytes: Buffer.alloc(0), start: 0, end: 0 };

  const quarantine = (bad: BadRecord): void => {
    counts.in++;
    counts.errors++;
    quarantined.push(bad.record);
    const row: ErrorRow = errorRowFor(options.input, bad, binary);
    errors.appendString(`${JSON.stringify(row)}\n`);
  };

  const closeShard = (): void => {
    if (shard.records === 0) return;
    const entry = { shard: shards.length, firstRecord: shard.firstRecord, records: shard.records, bytes: shard.bytes };
    shards.push(entry);
    ready.push({ entry, data: staging });
    staging = new Staging();
    shard = { records: 0, bytes: 0, firstRecord: 0 };
  };

  const handler: RecordHandler = {
    onRecord(data, record, position) {
      try {
        encode(data, selected);
      } catch (error) {
        if (!(error instanceof InvalidRecordError)) throw error;
        quarantine(badRecord(data, record, position, binary, error.message));
        return;
      }
      const { bytes, start, end } = selected;
      let size: number;
      if (framer) {
        const framed = framer.frame(bytes.subarray(start, end));
        size = framed.length;
        if (size > options.maxPayloadBytes) return quarantine(tooLarge(data, record, position, binary, size, options));
        staging.append(framed);
      } else {
        size = end - start + 1 + (wrap ? REQUEST_OPEN.length + REQUEST_CLOSE.length : 0);
        if (size > options.maxPayloadBytes) return quarantine(tooLarge(data, record, position, binary, size, options));
        if (wrap) staging.append(REQUEST_OPEN);
        staging.append(bytes, start, end);
        if (wrap) staging.append(REQUEST_CLOSE);
        if (lineEnd) staging.appendByte(NEWLINE);
      }
      counts.in++;
      counts.sent++;
      if (shard.records === 0) shard.firstRecord = record;
      shard.records++;
      shard.bytes += size;
      if (shard.bytes >= options.shardBytes) closeShard();
    },
    onBadRecord: quarantine,
    onSkipped() {
      counts.skipped++;
    },
  };

  const reader = readerFor(options, handler);
  let sink: ByteSink | undefined;
  let sinkShard = -1;

  // Writes what the last chunk produced: finished shards are closed, the open one keeps its sink.
  const flush = async (final: boolean): Promise<void> => {
    for (const { entry, data } of ready.splice(0)) {
      await writeShard(entry.shard, data.drain());
      await sink?.close();
      sink = undefined;
    }
    if (staging.size > 0 && (final || staging.size >= 1 << 20)) {
      await writeShard(shards.length, staging.drain());
    }
    for (const chunk of errors.drain()) await targets.errors.write(chunk);
  };
  const writeShard = async (index: number, chunks: Buffer[]): Promise<void> => {
    if (sinkShard !== index || !sink) {
      sink = await targets.openShard(index);
      sinkShard = index;
    }
    for (const chunk of chunks) await sink.write(chunk);
  };

  for await (const chunk of source) {
    reader.push(chunk);
    await flush(false);
  }
  reader.end();
  closeShard();
  await flush(true);
  await targets.errors.close();

  return { input: options.input, format, shards, records: counts, quarantined };
}

function readerFor(options: ShardOptions, handler: RecordHandler): RecordReader {
  const base = { input: options.input, maxRecordBytes: options.maxPayloadBytes };
  switch (options.splitType) {
    case 'Line':
      return options.decoding === 'csv'
        ? createCsvReader(handler, { ...base, header: options.csvHeader === true })
        : createLineReader(handler, { ...base, utf8: options.decoding !== 'none' });
    case 'TFRecord':
      return createTfRecordReader(handler, base);
    case 'RecordIO':
      return createRecordIoReader(handler, base);
    case 'None':
      return createWholeReader(handler, base);
  }
}

/** Records that keep their framing; lines are written like instances, one per line. */
function framerFor(splitType: SplitType): RecordFramer | undefined {
  switch (splitType) {
    case 'Line':
      return undefined;
    case 'TFRecord':
      return tfRecordFramer;
    case 'RecordIO':
      return recordIoFramer;
    case 'None':
      return { frame: (data) => data };
  }
}

function badRecord(data: Buffer, record: number, position: number, binary: boolean, reason: string): BadRecord {
  const raw = Buffer.from(data.subarray(0, 4096));
  return binary
    ? { record, offset: position, reason, raw, size: data.length }
    : { record, line: position, reason, raw, size: data.length };
}

function tooLarge(
  data: Buffer,
  record: number,
  position: number,
  binary: boolean,
  size: number,
  options: ShardOptions,
): BadRecord {
  const reason = `record is ${size} bytes once encoded, over the request limit of ${options.maxPayloadBytes} bytes (maxPayloadInMB)`;
  return badRecord(data, record, position, binary, reason);
}
