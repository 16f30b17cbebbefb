/**
 * Byte streams between the engine and the outside. Adapters (S3, a local folder, files) implement
 * ByteSink; the engine only appends, and awaits the sink between input chunks so memory stays flat.
 */
export interface ByteSink {
  /** Appends `chunk`; the caller may reuse its memory once the returned promise resolves. */
  write(chunk: Uint8Array): Promise<void>;
  /** All bytes are written; the object becomes visible whole (adapters write atomically). */
  close(): Promise<void>;
  /** Drops what was written: no object appears and nothing of it is left. Does nothing once closed. */
  abort(): Promise<void>;
}

/**
 * Drops the sinks of a write that failed with `error`, once the writes still under way (`pending`) have
 * ended, and throws `error`; a failure to drop them is thrown beside it.
 */
export async function abandon(
  sinks: readonly (ByteSink | undefined)[],
  error: unknown,
  pending: Promise<unknown> = Promise.resolve(),
): Promise<never> {
  const outcomes = await Promise.allSettled([
    pending,
    ...sinks.map((sink) => (sink ? sink.abort() : undefined)),
  ]);
  const failures = outcomes.flatMap((outcome) =>
    outcome.status === 'rejected' && outcome.reason !== error ? [outcome.reason] : [],
  );
  if (failures.length > 0) {
    throw new AggregateError(
      [error, ...failures],
      `${(error as Error).message} (and its output could not be dropped)`,
    );
  }
  throw error;
}

/** A sink several writers append to in turn: their close leaves it open for the next one. */
export function sharedSink(sink: ByteSink): ByteSink {
  return {
    write: (chunk) => sink.write(chunk),
    close: async () => undefined,
    abort: () => sink.abort(),
  };
}

/** Bytes of an object from `start` up to, not including, `end`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * An input to read: whole, as a stream of chunks from its start, or a range of it (Parquet reads its
 * footer, then the column chunks it needs).
 */
export interface InputFile {
  readonly size: number;
  read(range?: ByteRange): AsyncIterable<Buffer>;
}

/** Opens the sink for the nth shard of an input (0-based). */
export type ShardSinkFactory = (shard: number) => Promise<ByteSink>;

const STAGE_BYTES = 1 << 20;
const FIRST_STAGE_BYTES = 1 << 12;

/**
 * Collects small appends into large buffers, synchronously, for sinks that are written
 * asynchronously between input chunks. `drain` hands the full buffers over. Its buffer starts small
 * and grows as it fills, so that staging the little a small input writes costs little.
 */
export class Staging {
  private stage = Buffer.allocUnsafe(FIRST_STAGE_BYTES);
  private used = 0;
  private full: Buffer[] = [];
  private fullBytes = 0;

  /** Bytes appended and not yet drained. */
  get size(): number {
    return this.fullBytes + this.used;
  }

  append(bytes: Buffer, start = 0, end = bytes.length): void {
    const length = end - start;
    if (this.used + length > this.stage.length) {
      this.seal(true);
      if (length > this.stage.length) {
        this.full.push(Buffer.from(bytes.subarray(start, end)));
        this.fullBytes += length;
        return;
      }
    }
    if (length < 64) {
      const stage = this.stage;
      let at = this.used;
      for (let i = start; i < end; i++) stage[at++] = bytes[i] as number;
    } else {
      bytes.copy(this.stage, this.used, start, end);
    }
    this.used += length;
  }

  appendByte(byte: number): void {
    if (this.used === this.stage.length) this.seal(true);
    this.stage[this.used++] = byte;
  }

  appendString(text: string): void {
    this.append(Buffer.from(text));
  }

  /** Everything appended so far, in order, as buffers the caller now owns. */
  drain(): Buffer[] {
    this.seal();
    const out = this.full;
    this.full = [];
    this.fullBytes = 0;
    return out;
  }

  /** Hands the buffer over; the next one is larger when this one filled up (`grow`). */
  private seal(grow = false): void {
    if (this.used === 0) return;
    this.full.push(this.stage.subarray(0, this.used));
    this.fullBytes += this.used;
    this.stage = Buffer.allocUnsafe(grow ? Math.min(STAGE_BYTES, 4 * this.stage.length) : this.stage.length);
    this.used = 0;
  }
}
