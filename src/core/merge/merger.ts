import {
  CountMismatchError,
  InvalidRecordError,
  PredictionCountError,
  ResponseFormatError,
} from '../errors.ts';
import { abandon, type ByteSink, Staging, sharedSink } from '../io.ts';
import type { JsonPath, Selected } from '../json/path.ts';
import { createLineReader } from '../records/line.ts';
import type { RecordReader, RecordSource } from '../records/types.ts';
import type { ShardIndex } from '../shard/sharder.ts';
import { compactPredictions, splitResponse, type TfsMethod } from '../tfs/codec.ts';
import { LineBuffer } from '../tfs/list-lines.ts';
import { csvLine, joinCsv, joinJson } from './join.ts';

export interface MergeOptions {
  readonly tfsMethod: TfsMethod;
  readonly joinSource: 'None' | 'Input';
  /** Applied to each record's output (after the join); a record it does not match is quarantined. */
  readonly outputFilter?: JsonPath;
  /** CSV input: joined rows are CSV; otherwise JSON. */
  readonly csvInput?: boolean;
}

export interface MergeSources {
  /** The transform output of one shard: one response per line, in request order. */
  readonly shardOutput: (shard: number) => AsyncIterable<Buffer>;
  /** The original records, read again when joining, as the shard step read them. */
  readonly inputRecords?: RecordSource;
}

/** Several inputs' records in shared shards (a group's), each input's in turn. */
export interface MergeGroup<Input extends ShardIndex> {
  readonly format: ShardIndex['format'];
  /** The shards, in order, and how many records each holds. */
  readonly shards: readonly { readonly shard: number; readonly records: number }[];
  /** Each input's records, in shard order; their `shards` entries name the shared shards. */
  readonly inputs: readonly Input[];
}

export interface GroupMergeSources<Input extends ShardIndex> {
  readonly shardOutput: (shard: number) => AsyncIterable<Buffer>;
  /** An input's original records, read again when joining. */
  readonly inputRecords?: (input: Input) => Promise<RecordSource>;
}

export interface InputSummary {
  readonly key: string;
  readonly records: number;
  readonly errors: number;
  readonly out: number;
  readonly skipped: number;
}

const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from([NEWLINE]);

/**
 * Writes `<input>.out`: one line per good record, in input order, from the shards' transform outputs:
 * each response is split into one output per record (TFS answers one JSON document per request), the
 * count is checked against each shard's, the original record is joined when asked, and the output
 * filter applied. Records in = records out + records in error, or it throws CountMismatchError; when it
 * throws, neither the output nor the errors appear.
 */
export async function mergeInput(
  index: ShardIndex,
  sources: MergeSources,
  options: MergeOptions,
  targets: { out: ByteSink; errors: ByteSink },
): Promise<InputSummary> {
  const outputs = predictions(
    index.shards,
    index.format,
    index.input,
    sources.shardOutput,
    options.tfsMethod,
  );
  const copyable =
    options.joinSource !== 'Input' &&
    !options.outputFilter &&
    index.format === 'instances' &&
    options.tfsMethod === 'predict';
  const copy = copyable ? () => copyPredictions(index, sources, targets.out) : undefined;
  return mergeRecords(index, outputs, copy, sources.inputRecords, options, targets);
}

/**
 * Merges the inputs of a group, in order, from the group's shared shards: each input gets exactly as
 * many outputs as it sent records, whatever requests and shards they came in; `<input>.out` as
 * mergeInput writes it, and every input's errors in one stream.
 */
export async function mergeGroup<Input extends ShardIndex>(
  group: MergeGroup<Input>,
  label: string,
  sources: GroupMergeSources<Input>,
  options: MergeOptions,
  targets: { out: (input: Input) => Promise<ByteSink>; errors: ByteSink },
): Promise<InputSummary[]> {
  const [only] = group.inputs;
  if (only && group.inputs.length === 1) {
    // An input alone in its group has the group's shards to itself.
    const inputRecords = await sources.inputRecords?.(only);
    const single = { shardOutput: sources.shardOutput, ...(inputRecords && { inputRecords }) };
    return [
      await mergeInput(only, single, options, { out: await targets.out(only), errors: targets.errors }),
    ];
  }
  const all = predictions(group.shards, group.format, label, sources.shardOutput, options.tfsMethod);
  const cursor = new PredictionCursor(all, label);
  const summaries: InputSummary[] = [];
  // Small inputs' outputs are taken into memory in turn and written side by side: creating a file
  // costs several trips to the I/O thread pool, which thousands of small inputs would otherwise
  // wait for one after another. Their error rows are kept until the inputs before them are done.
  const writing: { summary: Promise<InputSummary>; errors: Buffer[]; bytes: number }[] = [];
  let bufferedBytes = 0;
  const settleOldest = async (): Promise<void> => {
    const oldest = writing.shift();
    if (!oldest) return;
    summaries.push(await oldest.summary);
    for (const chunk of oldest.errors) await targets.errors.write(chunk);
    bufferedBytes -= oldest.bytes;
  };
  try {
    for (const index of group.inputs) {
      const outputs = cursor.take(index.records.sent, index.input);
      const taken = await takeUpTo(outputs, BUFFERED_OUTPUT_BYTES - bufferedBytes);
      if (taken.complete && writing.length < INPUTS_WRITTEN_AT_ONCE) {
        const errors: Buffer[] = [];
        const summary = (async () =>
          mergeRecords(
            index,
            replay(taken.batches),
            undefined,
            await sources.inputRecords?.(index),
            options,
            {
              out: await targets.out(index),
              errors: memorySink(errors),
            },
          ))();
        // Awaited in turn by settleOldest; a failure must not go unhandled meanwhile.
        summary.catch(() => undefined);
        writing.push({ summary, errors, bytes: taken.bytes });
        bufferedBytes += taken.bytes;
        continue;
      }
      while (writing.length > 0) await settleOldest();
      const rest = replay(taken.batches, taken.complete ? undefined : outputs);
      const inputRecords = await sources.inputRecords?.(index);
      const out = await targets.out(index);
      const errors = sharedSink(targets.errors);
      summaries.push(await mergeRecords(index, rest, undefined, inputRecords, options, { out, errors }));
    }
    while (writing.length > 0) await settleOldest();
    await cursor.finish();
    await targets.errors.close();
  } catch (error) {
    const unfinished = writing.splice(0).map((entry) => entry.summary.catch(() => undefined));
    await abandon([targets.errors], error, Promise.all([...unfinished, all.return(undefined)]));
  }
  return summaries;
}

/** How many bytes of small inputs' outputs a group's merge holds at once, and over how many inputs. */
const BUFFERED_OUTPUT_BYTES = 8 * 1024 * 1024;
const INPUTS_WRITTEN_AT_ONCE = 16;

/**
 * An input's outputs copied out of the shared batches (whose buffers are used again), as long as they
 * fit in `limit` bytes; `complete` is false when they did not and the rest is still to be read.
 */
async function takeUpTo(
  outputs: AsyncGenerator<PredictionBatch>,
  limit: number,
): Promise<{ batches: PredictionBatch[]; bytes: number; complete: boolean }> {
  const batches: PredictionBatch[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const next = await outputs.next();
    if (next.done) return { batches, bytes, complete: true };
    batches.push(copyBatch(next.value));
    bytes += batches.at(-1)?.bytes.length ?? 0;
  }
  return { batches, bytes, complete: false };
}

function copyBatch({ bytes, spans }: PredictionBatch): PredictionBatch {
  const from = spans.starts[0] ?? 0;
  const to = spans.ends.at(-1) ?? 0;
  return {
    bytes: Buffer.from(bytes.subarray(from, to)),
    spans: { starts: spans.starts.map((start) => start - from), ends: spans.ends.map((end) => end - from) },
  };
}

async function* replay(
  batches: readonly PredictionBatch[],
  rest?: AsyncGenerator<PredictionBatch>,
): AsyncGenerator<PredictionBatch> {
  yield* batches;
  if (rest) yield* rest;
}

/** A sink keeping what is written, for rows that must wait their turn. */
function memorySink(chunks: Buffer[]): ByteSink {
  return {
    write: async (chunk) => {
      chunks.push(Buffer.from(chunk));
    },
    close: async () => undefined,
    abort: async () => {
      chunks.length = 0;
    },
  };
}

async function mergeRecords(
  index: ShardIndex,
  outputs: AsyncGenerator<PredictionBatch>,
  copy: (() => Promise<number>) | undefined,
  inputRecords: RecordSource | undefined,
  options: MergeOptions,
  targets: { out: ByteSink; errors: ByteSink },
): Promise<InputSummary> {
  const { out } = targets;
  const filter = options.outputFilter;
  const selected: Selected = { bytes: Buffer.alloc(0), start: 0, end: 0 };
  const staging = new Staging();
  const errorRows = new Staging();
  let written = 0;
  let failed = 0;
  const sentRecords = recordsSent(index);

  const csvRows = options.joinSource === 'Input' && options.csvInput === true;
  const emit = (bytes: Buffer, start: number, end: number): void => {
    const record = sentRecords.next().value ?? 0;
    if (filter) {
      try {
        filter.select(bytes, start, end, selected);
      } catch (error) {
        if (!(error instanceof InvalidRecordError)) throw error;
        failed++;
        const reason = `outputFilter ${error.message}`;
        const row = {
          input: index.input,
          record,
          reason,
          raw: bytes.toString('utf8', start, end),
          size: end - start,
        };
        errorRows.appendString(`${JSON.stringify(row)}\n`);
        return;
      }
    } else {
      selected.bytes = bytes;
      selected.start = start;
      selected.end = end;
    }
    if (csvRows) staging.append(csvLine(selected.bytes.subarray(selected.start, selected.end)));
    else staging.append(selected.bytes, selected.start, selected.end);
    staging.appendByte(NEWLINE);
    written++;
  };
  const flush = async (): Promise<void> => {
    for (const chunk of staging.drain()) await out.write(chunk);
    for (const chunk of errorRows.drain()) await targets.errors.write(chunk);
  };

  const { records } = index;
  try {
    if (options.joinSource === 'Input') {
      await joinWithInput(index, inputRecords, options, outputs, emit, flush);
    } else if (copy) {
      written = await copy();
    } else {
      for await (const batch of outputs) {
        for (let k = 0; k < batch.spans.starts.length; k++) {
          emit(batch.bytes, batch.spans.starts[k] as number, batch.spans.ends[k] as number);
        }
        await flush();
      }
    }
    await flush();
    if (records.in !== written + records.errors + failed) {
      throw new CountMismatchError(
        `${index.input}: ${records.in} records in, ${written} out and ${records.errors + failed} in error do not add up`,
      );
    }
    // The output appears last, and only when its counts add up.
    await targets.errors.close();
    await out.close();
  } catch (error) {
    // Ending the generator closes the shard output it may be reading.
    await abandon([out, targets.errors], error, outputs.return(undefined));
  }
  return {
    key: index.input,
    records: records.in,
    errors: records.errors + failed,
    out: written,
    skipped: records.skipped,
  };
}

/**
 * Without join or filter, each record's output is its prediction as it stands: compact responses are
 * turned into lines a whole response at a time, the others split record by record. Lines gather in one
 * of two buffers: while one is being written out, the next chunk's lines fill the other.
 */
async function copyPredictions(index: ShardIndex, sources: MergeSources, out: ByteSink): Promise<number> {
  let written = 0;
  let filling = new LineBuffer();
  let spare = new LineBuffer();
  let spareWrite: Promise<void> = Promise.resolve();
  const send = async (): Promise<void> => {
    const full = filling;
    const write = out.write(full.take());
    // Awaited below, or dropped with the merge when it fails first.
    write.catch(() => undefined);
    await spareWrite;
    filling = spare;
    spare = full;
    spareWrite = write;
  };
  for (const shard of index.shards) {
    let count = 0;
    const reader = responseReader(index.input, shard.shard, (response) => {
      count += appendOutputs(response, filling);
    });
    const checkCount = (): void => {
      if (count > shard.records) {
        throw new PredictionCountError(
          `shard ${shard.shard} of ${index.input}: more outputs than its ${shard.records} records`,
        );
      }
    };
    for await (const chunk of sources.shardOutput(shard.shard)) {
      reader.push(chunk);
      checkCount();
      if (filling.size >= 1 << 20) await send();
    }
    reader.end();
    checkCount();
    if (count !== shard.records) {
      throw new PredictionCountError(
        `shard ${shard.shard} of ${index.input}: ${count} outputs for ${shard.records} records`,
      );
    }
    written += count;
  }
  if (filling.size > 0) await send();
  await spareWrite;
  return written;
}

/** Appends one response's outputs as lines; how many there were. */
function appendOutputs(response: Buffer, lines: LineBuffer): number {
  const compact = compactPredictions(response);
  if (compact) {
    const count = lines.appendValues(response, compact.start, compact.end);
    if (count >= 0) return count;
  }
  const { spans, assembled } = splitResponse(response, 0, response.length, 'predict');
  const bytes = assembled ?? response;
  for (let k = 0; k < spans.starts.length; k++) {
    lines.append(bytes, spans.starts[k] as number, spans.ends[k] as number);
    lines.append(NEWLINE_BYTES, 0, 1);
  }
  return spans.starts.length;
}

/**
 * Reads one shard's transform output: one response per line. A response is a view of the chunk being
 * read; a line the reader cannot deliver, or a response that cannot be read, means the output is broken.
 */
function responseReader(
  label: string,
  shard: number,
  onResponse: (response: Buffer, line: number) => void,
): RecordReader {
  return createLineReader(
    {
      onRecord(response, _record, line) {
        try {
          onResponse(response, line);
        } catch (error) {
          if (!(error instanceof ResponseFormatError)) throw error;
          throw new ResponseFormatError(`shard ${shard} of ${label}: output line ${line}: ${error.message}`, {
            cause: error,
          });
        }
      },
      onBadRecord(bad) {
        throw new PredictionCountError(`shard ${shard} of ${label}: output line ${bad.line}: ${bad.reason}`);
      },
      onSkipped() {},
    },
    { input: `${label} shard ${shard}`, maxRecordBytes: Number.MAX_SAFE_INTEGER, utf8: false },
  );
}

/** The numbers of the records that were sent to the model, in order: all but the quarantined ones. */
function* recordsSent(index: ShardIndex): Generator<number> {
  let q = 0;
  const first = index.firstRecord ?? 1;
  for (let record = first; record < first + index.records.in; record++) {
    if (index.quarantined[q] === record) {
      q++;
      continue;
    }
    yield record;
  }
}

interface PredictionBatch {
  readonly bytes: Buffer;
  readonly spans: { starts: number[]; ends: number[] };
}

/** Per-record outputs of every shard, in order, one batch per response; checks each shard's count. */
async function* predictions(
  shards: readonly { readonly shard: number; readonly records: number }[],
  format: ShardIndex['format'],
  label: string,
  shardOutput: (shard: number) => AsyncIterable<Buffer>,
  method: TfsMethod,
): AsyncGenerator<PredictionBatch> {
  for (const shard of shards) {
    const batches: PredictionBatch[] = [];
    let count = 0;
    const reader = responseReader(label, shard.shard, (view, line) => {
      const response = Buffer.from(view);
      const { spans, assembled } =
        format === 'original'
          ? { spans: { starts: [0], ends: [response.length] }, assembled: undefined }
          : splitResponse(response, 0, response.length, method);
      count += spans.starts.length;
      if (count > shard.records) {
        throw new PredictionCountError(
          `shard ${shard.shard} of ${label}: more outputs than its ${shard.records} records (at output line ${line})`,
        );
      }
      batches.push({ bytes: assembled ?? response, spans });
    });
    for await (const chunk of shardOutput(shard.shard)) {
      reader.push(chunk);
      yield* batches.splice(0);
    }
    reader.end();
    yield* batches.splice(0);
    if (count !== shard.records) {
      throw new PredictionCountError(
        `shard ${shard.shard} of ${label}: ${count} outputs for ${shard.records} records`,
      );
    }
  }
}

/** Hands out the outputs of shared shards to the inputs whose records they answer, in order. */
class PredictionCursor {
  readonly #source: AsyncGenerator<PredictionBatch>;
  readonly #label: string;
  #batch: PredictionBatch | undefined;
  #next = 0;

  constructor(source: AsyncGenerator<PredictionBatch>, label: string) {
    this.#source = source;
    this.#label = label;
  }

  /** The next `count` outputs, as views of the batches they are in. */
  async *take(count: number, input: string): AsyncGenerator<PredictionBatch> {
    let left = count;
    while (left > 0) {
      if (!this.#batch || this.#next === this.#batch.spans.starts.length) {
        const result = await this.#source.next();
        if (result.done) {
          throw new PredictionCountError(
            `${this.#label}: outputs ran out with ${left} records of ${input} left`,
          );
        }
        this.#batch = result.value;
        this.#next = 0;
      }
      const { bytes, spans } = this.#batch;
      const end = Math.min(spans.starts.length, this.#next + left);
      const taken = { starts: spans.starts.slice(this.#next, end), ends: spans.ends.slice(this.#next, end) };
      left -= end - this.#next;
      this.#next = end;
      yield { bytes, spans: taken };
    }
  }

  /** Checks that every output was handed out. */
  async finish(): Promise<void> {
    const left = this.#batch ? this.#batch.spans.starts.length - this.#next : 0;
    if (left > 0 || !(await this.#source.next()).done) {
      throw new PredictionCountError(`${this.#label}: more outputs than records`);
    }
  }
}

/** Reads the input again, pairs each record that was sent with the next output, and emits the join. */
async function joinWithInput(
  index: ShardIndex,
  inputRecords: RecordSource | undefined,
  options: MergeOptions,
  outputs: AsyncGenerator<PredictionBatch>,
  emit: (bytes: Buffer, start: number, end: number) => void,
  flush: () => Promise<void>,
): Promise<void> {
  if (!inputRecords) throw new Error('joinSource Input needs the original input');
  const quarantined = new Set(index.quarantined);
  const records: Buffer[] = [];
  const handler = {
    onRecord(data: Buffer, record: number) {
      if (!quarantined.has(record)) records.push(Buffer.from(data));
    },
    onBadRecord() {},
    onSkipped() {},
  };
  let batch: PredictionBatch | undefined;
  let next = 0;
  const nextOutput = async (): Promise<Buffer> => {
    while (!batch || next === batch.spans.starts.length) {
      const result = await outputs.next();
      if (result.done) throw new PredictionCountError(`${index.input}: fewer outputs than records to join`);
      batch = result.value;
      next = 0;
    }
    const start = batch.spans.starts[next] as number;
    const end = batch.spans.ends[next] as number;
    next++;
    return batch.bytes.subarray(start, end);
  };
  const pair = async (): Promise<void> => {
    for (const record of records.splice(0)) {
      const output = await nextOutput();
      const joined = options.csvInput ? joinCsv(record, output) : joinJson(record, output);
      emit(joined, 0, joined.length);
    }
    await flush();
  };
  for await (const _ of inputRecords(handler)) await pair();
  await pair();
  if ((batch && next < batch.spans.starts.length) || !(await outputs.next()).done) {
    throw new PredictionCountError(`${index.input}: more outputs than records to join`);
  }
}
