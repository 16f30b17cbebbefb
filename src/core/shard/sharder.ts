import { ExampleDecodeError } from '../errors.ts';
import { abandon, type ByteSink, type InputFile, type ShardSinkFactory, Staging } from '../io.ts';
import { compileJsonPath } from '../json/path.ts';
import { createCsvReader } from '../records/csv.ts';
import { exampleToJson } from '../records/example.ts';
import { createLineReader } from '../records/line.ts';
import type { ParquetReading, ParquetRows } from '../records/parquet.ts';
import { createRecordIoReader } from '../records/recordio.ts';
import { createTfRecordReader } from '../records/tfrecord.ts';
import { framedRecords, type RecordHandler, type RecordReader, type RecordSource } from '../records/types.ts';
import { createWholeReader } from '../records/whole.ts';
import { BlockBuilder, BufferPool, type EncodedBlock, type EncodeSettings, INDEX_BYTES } from './block.ts';
import { createBlockEncoderPool, type ShardThreads } from './pool.ts';
import { shardLinesVerbatim } from './verbatim.ts';

export interface ShardOptions extends EncodeSettings {
  readonly csvHeader?: boolean;
  /** A shard is closed at the first record boundary at or after this many bytes. */
  readonly shardBytes: number;
  /** Worker threads that encode records; without them records are encoded on the reading thread. */
  readonly workers?: ShardThreads;
  /** A Parquet input's row groups from `first` up to `end`: a part of a file split over invocations. */
  readonly rowGroups?: ParquetReading['rowGroups'];
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
  /** The number of the first record read: 1 unless the input is a part of a file (its row groups). */
  readonly firstRecord?: number;
}

export interface ShardTargets {
  readonly openShard: ShardSinkFactory;
  /** Rows for `_errors.jsonl`, one JSON object per line. */
  readonly errors: ByteSink;
}

const BLOCK_BYTES = 1 << 20;
const SMALL_BLOCK_BYTES = 1 << 14;
const SMALL_BLOCK_RECORDS = 1 << 10;

/**
 * Reads one input once, as a stream, and cuts it into shards at record boundaries: each good record
 * becomes one line (a TFS instance) or one framed record, each unreadable record a row in the errors
 * stream. Every record read ends up in exactly one of the two. Framing runs on this thread; encoding
 * (validation, filters, decoding) runs on `workers` threads when asked, in blocks, in input order.
 */
export async function shardInput(
  source: AsyncIterable<Buffer>,
  options: ShardOptions,
  targets: ShardTargets,
): Promise<ShardIndex> {
  if (options.splitType === 'Line' && options.decoding === 'none')
    return shardLinesVerbatim(source, options, targets);
  return shardRecords((handler) => framedRecords(source, readerFor(options, handler)), options, targets);
}

/** Shards one input as its format says: a Parquet file by row groups, any other as a stream. */
export async function shardFile(
  file: InputFile,
  options: ShardOptions,
  targets: ShardTargets,
): Promise<ShardIndex> {
  if (options.decoding !== 'parquet') {
    if (options.splitType === 'Line' && options.decoding === 'none')
      return shardLinesVerbatim(file.read(), options, targets);
    const source = file.read();
    return shardRecords(
      (handler) => framedRecords(source, readerFor(options, handler)),
      options,
      targets,
      file.size,
    );
  }
  const { rowGroups, ...settings } = options;
  const { inputFilter, ...unfiltered } = settings;
  const filter = compileJsonPath(inputFilter ?? '$');
  const rows = await parquetReader(file, {
    input: options.input,
    ...(filter.members && { columns: filter.members }),
    ...(rowGroups && { rowGroups }),
  });
  // `$['a','b']` picks those members alone, in that order: rows read of those columns already are
  // what it gives (unless none is a column, when it matches no row).
  const picked = filter.picksMembers && rows.columns.length > 0;
  const index = await shardRecords(rows.records, picked ? unfiltered : settings, targets, file.size);
  return rows.firstRecord === 1 ? index : { ...index, firstRecord: rows.firstRecord };
}

/**
 * An input's records as the Shard step read them, read again for a join: every column of a Parquet
 * row, whatever the input filter read.
 */
export async function inputRecords(file: InputFile, options: ShardOptions): Promise<RecordSource> {
  if (options.decoding === 'parquet') {
    const { input, rowGroups } = options;
    return (await parquetReader(file, { input, ...(rowGroups && { rowGroups }) })).records;
  }
  if (options.decoding === 'tf-example') {
    return (handler) => framedRecords(file.read(), readerFor(options, examplesAsJson(handler)));
  }
  return (handler) => framedRecords(file.read(), readerFor(options, handler));
}

/**
 * tf.Example records handed on as the JSON object the input filter saw, which is what a join adds the
 * output to; one that does not decode is a bad record, as Shard found it.
 */
function examplesAsJson(handler: RecordHandler): RecordHandler {
  return {
    onRecord(data, record, position) {
      let json: string;
      try {
        json = exampleToJson(data);
      } catch (error) {
        if (!(error instanceof ExampleDecodeError)) throw error;
        handler.onBadRecord({
          record,
          offset: position,
          reason: error.message,
          raw: data,
          size: data.length,
        });
        return;
      }
      handler.onRecord(Buffer.from(json), record, position);
    },
    onBadRecord: (bad) => handler.onBadRecord(bad),
    onSkipped: (line) => handler.onSkipped(line),
  };
}

/** The Parquet reader, loaded only for Parquet inputs (a Lambda without one does not load hyparquet). */
async function parquetReader(file: InputFile, reading: ParquetReading): Promise<ParquetRows> {
  const { parquetRows } = await import('../records/parquet.ts');
  return parquetRows(file, reading);
}

/**
 * The shard engine, over records from any source. `inputBytes`, when known, sizes its buffers: a small
 * input (one of thousands in a group) needs no megabytes of them.
 */
async function shardRecords(
  records: RecordSource,
  options: ShardOptions,
  targets: ShardTargets,
  inputBytes = Number.MAX_SAFE_INTEGER,
): Promise<ShardIndex> {
  const format = options.decoding === 'none' ? 'original' : 'instances';
  const shards: ShardEntry[] = [];
  const quarantined: number[] = [];
  const counts = { in: 0, skipped: 0, errors: 0, sent: 0 };
  let shard = { records: 0, bytes: 0, firstRecord: 0 };
  // Encoded bytes not yet written, as views of the encoded blocks (no copy); `release` marks the
  // last view of a block, after which its buffer can be reused.
  type Piece = { bytes: Buffer; release?: ArrayBufferLike };
  let staging: Piece[] = [];
  let stagedBytes = 0;
  const errors = new Staging();
  const ready: { entry: ShardEntry; pieces: Piece[] }[] = [];

  const closeShard = (): void => {
    if (shard.records === 0) return;
    const entry = {
      shard: shards.length,
      firstRecord: shard.firstRecord,
      records: shard.records,
      bytes: shard.bytes,
    };
    shards.push(entry);
    ready.push({ entry, pieces: staging });
    staging = [];
    stagedBytes = 0;
    shard = { records: 0, bytes: 0, firstRecord: 0 };
  };

  const stage = (bytes: Buffer, release?: ArrayBufferLike): void => {
    staging.push(release ? { bytes, release } : { bytes });
    stagedBytes += bytes.length;
  };

  const assemble = (block: EncodedBlock): void => {
    const encoded = Buffer.from(block.encoded.buffer, block.encoded.byteOffset, block.encoded.length);
    let segment = 0;
    let previous = 0;
    for (let k = 0; k < block.ends.length; k++) {
      const end = block.ends[k] as number;
      if (shard.records === 0) shard.firstRecord = block.numbers[k] as number;
      shard.records++;
      shard.bytes += end - previous;
      previous = end;
      if (shard.bytes >= options.shardBytes) {
        stage(encoded.subarray(segment, end), end === encoded.length ? block.encoded.buffer : undefined);
        segment = end;
        closeShard();
      }
    }
    if (segment < encoded.length) stage(encoded.subarray(segment), block.encoded.buffer);
    else if (segment === 0) pool.release(block.encoded.buffer);
    counts.in += block.ends.length + block.quarantined.length;
    counts.sent += block.ends.length;
    counts.errors += block.quarantined.length;
    for (const record of block.quarantined) quarantined.push(record);
    if (block.errors.length > 0) errors.appendString(block.errors);
    indexes.give(block.ends.buffer);
  };

  // A record is at least one byte: an input of n bytes has at most n records.
  const blockBytes = Math.min(BLOCK_BYTES, Math.max(SMALL_BLOCK_BYTES, inputBytes));
  const buffers = new BufferPool(2 * blockBytes);
  const indexes = new BufferPool(Math.min(INDEX_BYTES, 16 * Math.max(SMALL_BLOCK_RECORDS, inputBytes)));
  const builder = new BlockBuilder(blockBytes, buffers, indexes);
  const handler: RecordHandler = {
    onRecord(data, record, position) {
      builder.add(data, record, position);
    },
    onBadRecord(bad) {
      builder.addBad(bad.raw, bad.record, bad.line ?? bad.offset ?? 0, bad.reason, bad.size);
    },
    onSkipped() {
      counts.skipped++;
    },
  };

  const { workers, ...settings } = options;
  const pool = createBlockEncoderPool(settings, workers, buffers);
  const inFlight: Promise<EncodedBlock>[] = [];
  const maxInFlight = Math.max(2, 2 * (workers?.count ?? 0));
  let sink: ByteSink | undefined;
  let sinkShard = -1;

  const writeShard = async (index: number, pieces: Piece[]): Promise<void> => {
    if (sinkShard !== index || !sink) {
      sink = await targets.openShard(index);
      sinkShard = index;
    }
    for (const { bytes, release } of pieces) {
      await sink.write(bytes);
      if (release) pool.release(release);
    }
  };
  // Writes what has been assembled: finished shards are closed, the open one keeps its sink.
  const flush = async (final: boolean): Promise<void> => {
    for (const { entry, pieces } of ready.splice(0)) {
      await writeShard(entry.shard, pieces);
      await sink?.close();
      sink = undefined;
    }
    if (staging.length > 0 && (final || stagedBytes >= BLOCK_BYTES)) {
      const pieces = staging;
      staging = [];
      stagedBytes = 0;
      await writeShard(shards.length, pieces);
    }
    for (const chunk of errors.drain()) await targets.errors.write(chunk);
  };
  const submit = (): void => {
    if (builder.length > 0) inFlight.push(pool.encode(builder.take()));
  };

  try {
    for await (const _ of records(handler)) {
      if (builder.full) submit();
      while (inFlight.length >= maxInFlight) assemble(await (inFlight.shift() as Promise<EncodedBlock>));
      await flush(false);
    }
    submit();
    for (const result of inFlight.splice(0)) assemble(await result);
    closeShard();
    await flush(true);
    await targets.errors.close();
  } catch (error) {
    // The shard being written and the errors are dropped; the shards already closed stay for the
    // caller to delete with the rest of the job's work.
    await abandon([sink, targets.errors], error, Promise.allSettled(inFlight));
  } finally {
    await pool.close();
  }

  return { input: options.input, format, shards, records: counts, quarantined };
}

/** The framing reader for an input, as the Shard step reads it (and the Merge step reads it again). */
export function readerFor(options: ShardOptions, handler: RecordHandler): RecordReader {
  const base = { input: options.input, maxRecordBytes: options.maxRecordBytes };
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
