import { PipelineError } from '../errors.ts';
import { abandon, type ByteSink } from '../io.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { createLineReader } from '../records/line.ts';
import { inputsKey } from './layout.ts';

/** One input object of a job, as Plan listed it. */
export interface PlannedInput {
  /** Its place among all the job's inputs, from 0, in listing order. */
  readonly index: number;
  readonly key: string;
  /** Its name in the results: relative to the inbox, or to the folder it was listed from. */
  readonly name: string;
  readonly size: number;
  /** Which of the request's inputs (a file or a folder) it was listed from. */
  readonly request: number;
  /** A part of a Parquet file too large for one invocation: its listing entries share `index`. */
  readonly part?: InputPart;
}

/** Consecutive row groups of one Parquet file, read by one Shard and one Merge invocation. */
export interface InputPart {
  /** Its place among the file's parts, from 0, and how many parts the file has. */
  readonly part: number;
  readonly parts: number;
  /** Row groups from `first` up to, not including, `end`. */
  readonly rowGroups: { readonly first: number; readonly end: number };
  /** Its rows and the bytes of its column chunks, as the file's footer says. */
  readonly rows: number;
  readonly bytes: number;
}

/** Consecutive inputs that one Shard and one Merge take: what a Map iteration gets. */
export interface InputGroup {
  readonly group: number;
  /** The index of its first input. */
  readonly first: number;
  readonly count: number;
  readonly bytes: number;
  /** A group that is one part of a split input (count 1): the part's number. */
  readonly part?: number;
}

/**
 * A group holds at most this many inputs and about this many bytes (an input larger than that is a
 * group alone). Both bounds double every GROUPS_PER_DOUBLING groups, so that a job stays under 1,000
 * groups up to 3.75 million inputs (or petabytes), and under Step Functions' 25,000 events beyond: two
 * Maps cost about 14 events per group. A gigabyte is what one Lambda streams well within its 15 minutes.
 */
export const GROUP_INPUTS = 1000;
export const GROUP_BYTES = 1024 ** 3;
export const GROUPS_PER_DOUBLING = 250;

/**
 * Cuts the inputs, as they are listed, into groups, writing each group's listing to
 * `work/<jobId>/inputs/<group>.jsonl` as it goes: the listing is never held whole.
 */
export class InputGrouper {
  readonly #store: ObjectStore;
  readonly #jobId: string;
  readonly #groups: InputGroup[] = [];
  #open:
    | { group: number; first: number; count: number; bytes: number; sink: ByteSink; part?: number }
    | undefined;
  #inputs = 0;
  #bytes = 0;

  constructor(store: ObjectStore, jobId: string) {
    this.#store = store;
    this.#jobId = jobId;
  }

  get inputs(): { count: number; bytes: number } {
    return { count: this.#inputs, bytes: this.#bytes };
  }

  /** Adds the next input; its index is the count of inputs added before it. */
  async add(input: Omit<PlannedInput, 'index'>): Promise<PlannedInput> {
    const planned: PlannedInput = { index: this.#inputs, ...input };
    const growth = 2 ** Math.floor(this.#groups.length / GROUPS_PER_DOUBLING);
    const open = this.#open;
    if (open && (open.count >= GROUP_INPUTS * growth || open.bytes + input.size > GROUP_BYTES * growth)) {
      await this.#close();
    }
    await this.#append(planned, input.size);
    this.#inputs++;
    this.#bytes += input.size;
    return planned;
  }

  /**
   * Adds an input split into parts, each a group alone (one Shard and one Merge invocation each); its
   * index is the count of inputs added before it, as for `add`.
   */
  async addParts(input: Omit<PlannedInput, 'index' | 'part'>, parts: readonly InputPart[]): Promise<void> {
    await this.#close();
    for (const part of parts) {
      await this.#append({ index: this.#inputs, ...input, part }, part.bytes, part.part);
      await this.#close();
    }
    this.#inputs++;
    this.#bytes += input.size;
  }

  /** Closes the last group; the groups, in order. */
  async finish(): Promise<InputGroup[]> {
    await this.#close();
    return this.#groups;
  }

  /** Drops the group being written (the plan failed). */
  async abort(): Promise<void> {
    await this.#open?.sink.abort();
    this.#open = undefined;
  }

  /** Writes the input into the open group's listing, opening a group (that part alone) when none is. */
  async #append(planned: PlannedInput, bytes: number, part?: number): Promise<void> {
    this.#open ??= {
      group: this.#groups.length,
      first: planned.index,
      count: 0,
      bytes: 0,
      sink: await this.#store.write(inputsKey(this.#jobId, this.#groups.length)),
      ...(part !== undefined && { part }),
    };
    const group = this.#open;
    try {
      await group.sink.write(Buffer.from(`${JSON.stringify(planned)}\n`));
    } catch (error) {
      this.#open = undefined;
      await abandon([group.sink], error);
    }
    group.count++;
    group.bytes += bytes;
  }

  async #close(): Promise<void> {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    await open.sink.close();
    this.#groups.push({
      group: this.#groups.length,
      first: open.first,
      count: open.count,
      bytes: open.bytes,
      ...(open.part !== undefined && { part: open.part }),
    });
  }
}

/** A group's inputs, in order, read back from its listing as a stream. */
export async function* groupInputs(
  store: ObjectStore,
  jobId: string,
  group: InputGroup,
): AsyncGenerator<PlannedInput> {
  const key = inputsKey(jobId, group.group);
  const parsed: PlannedInput[] = [];
  const reader = createLineReader(
    {
      onRecord: (line) => parsed.push(JSON.parse(line.toString('utf8')) as PlannedInput),
      onBadRecord: (bad) => {
        throw new PipelineError(`${key}: line ${bad.line} cannot be read: ${bad.reason}`);
      },
      onSkipped: () => undefined,
    },
    { input: key, maxRecordBytes: Number.MAX_SAFE_INTEGER, utf8: true },
  );
  for await (const chunk of store.read(key)) {
    reader.push(chunk);
    yield* parsed.splice(0);
  }
  reader.end();
  yield* parsed.splice(0);
}
