import { CountMismatchError, PipelineError } from '../errors.ts';
import { abandon, type ByteSink, type InputFile, sharedSink } from '../io.ts';
import { type ObjectStore, storedInput, writeText } from '../ports/object-store.ts';
import { ShardPacker } from '../shard/packing.ts';
import type { ShardThreads } from '../shard/pool.ts';
import { type ShardIndex, shardFile } from '../shard/sharder.ts';
import { type CompiledJob, inputBytes, inputReading } from '../spec/compile.ts';
import { groupInputs, type InputGroup, type InputPart, type PlannedInput } from './inputs.ts';
import { indexKey, shardErrorsKey, shardKey } from './layout.ts';

/** One input's records in its group's shards: its `shards` entries name the group's shards. */
export interface GroupedInput extends ShardIndex {
  readonly index: number;
  readonly key: string;
  readonly size: number;
  /** A part of a split Parquet file: the rows of these row groups only. */
  readonly part?: InputPart;
}

/** What the merge needs to hand each input its predictions: the group's shards and each input's records. */
export interface GroupIndex {
  readonly group: number;
  readonly format: ShardIndex['format'];
  /** The group's shards, in order, and how many records each holds. */
  readonly shards: { readonly shard: number; readonly records: number }[];
  readonly inputs: GroupedInput[];
  readonly records: ShardIndex['records'];
}

export interface ShardResult {
  readonly group: number;
  readonly shards: number;
  readonly records: ShardIndex['records'];
}

/** The input size from which Shard encodes on worker threads, when it has them. */
export const WORKERS_FROM_BYTES = 32 * 1024 * 1024;

/**
 * Shard step: a group's inputs, each read once in order, their records packed into the group's
 * shards; the group's index is kept for the merge.
 */
export async function shardStep(
  store: ObjectStore,
  jobId: string,
  job: CompiledJob,
  group: InputGroup,
  workers?: ShardThreads,
): Promise<ShardResult> {
  const packer = new ShardPacker(
    (shard) => store.write(shardKey(jobId, group.group, shard, job.shards.extension)),
    job.records.shardBytes,
  );
  const errors = await store.write(shardErrorsKey(jobId, group.group));
  const inputs: GroupedInput[] = [];
  try {
    for await (const { input, file } of readAhead(store, groupInputs(store, jobId, group))) {
      inputs.push(await shardOne(job, input, file, packer, sharedSink(errors), workers));
    }
    await packer.close();
    await errors.close();
  } catch (error) {
    await abandon([errors], error, packer.abort());
  }
  const index = groupIndex(group.group, job, inputs);
  await writeText(store, indexKey(jobId, group.group), JSON.stringify(index));
  return { group: group.group, shards: index.shards.length, records: index.records };
}

/** Inputs this small are read whole ahead of their turn, this many at once. */
const READ_AHEAD_BYTES = 256 * 1024;
const READ_AHEAD_INPUTS = 16;

/**
 * The group's inputs with their bytes, small ones read whole while those before them are sharded:
 * opening and reading an object costs trips to storage that thousands of small inputs would otherwise
 * wait for one after another. Larger inputs are streamed in their turn.
 */
async function* readAhead(
  store: ObjectStore,
  inputs: AsyncIterable<PlannedInput>,
): AsyncGenerator<{ input: PlannedInput; file: InputFile }> {
  const ahead: { input: PlannedInput; file: Promise<InputFile> }[] = [];
  try {
    for await (const input of inputs) {
      const file =
        input.size <= READ_AHEAD_BYTES
          ? readWhole(store, input)
          : Promise.resolve(storedInput(store, input.key, input.size));
      // Awaited in turn below; a failure must not go unhandled meanwhile.
      file.catch(() => undefined);
      ahead.push({ input, file });
      if (ahead.length < READ_AHEAD_INPUTS) continue;
      const next = ahead.shift() as (typeof ahead)[number];
      yield { input: next.input, file: await next.file };
    }
    for (const next of ahead.splice(0)) yield { input: next.input, file: await next.file };
  } finally {
    await Promise.allSettled(ahead.map((next) => next.file));
  }
}

async function readWhole(store: ObjectStore, input: PlannedInput): Promise<InputFile> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(input.key)) chunks.push(chunk);
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  return {
    size: bytes.length,
    read: async function* (range) {
      yield range ? bytes.subarray(range.start, range.end) : bytes;
    },
  };
}

async function shardOne(
  job: CompiledJob,
  input: PlannedInput,
  file: InputFile,
  packer: ShardPacker,
  errors: ByteSink,
  workers: ShardThreads | undefined,
): Promise<GroupedInput> {
  // Starting a worker thread costs most of a second of CPU: worth it only for inputs that take longer.
  const threads = input.size >= WORKERS_FROM_BYTES ? workers : undefined;
  const { openShard, placed } = packer.forInput();
  const { part } = input;
  const index = await shardFile(
    inputBytes(job, input.key, input.name, file),
    {
      ...inputReading(job, input.key, input.name),
      ...(part && { rowGroups: part.rowGroups }),
      ...(threads && { workers: threads }),
    },
    { openShard, errors },
  );
  if (part && index.records.in !== part.rows) {
    throw new CountMismatchError(
      `${input.name}: row groups ${part.rowGroups.first} to ${part.rowGroups.end - 1} (part ${part.part + 1} of ${part.parts}) ` +
        `hold ${part.rows} rows by the file's footer when planned, but ${index.records.in} were read`,
    );
  }
  if (placed.length !== index.shards.length) {
    throw new PipelineError(
      `${input.name}: ${index.shards.length} shards cut but ${placed.length} written into the group's shards`,
    );
  }
  return {
    ...index,
    index: input.index,
    key: input.key,
    size: input.size,
    ...(part && { part }),
    shards: index.shards.map((entry, k) => ({ ...entry, shard: placed[k] as number })),
  };
}

function groupIndex(group: number, job: CompiledJob, inputs: GroupedInput[]): GroupIndex {
  const shards: { shard: number; records: number }[] = [];
  const records = { in: 0, skipped: 0, errors: 0, sent: 0 };
  for (const input of inputs) {
    for (const entry of input.shards) {
      const last = shards.at(-1);
      if (last?.shard === entry.shard) last.records += entry.records;
      else shards.push({ shard: entry.shard, records: entry.records });
    }
    records.in += input.records.in;
    records.skipped += input.records.skipped;
    records.errors += input.records.errors;
    records.sent += input.records.sent;
  }
  return { group, format: job.shards.format, shards, inputs, records };
}
