import type { ByteSink, ShardSinkFactory } from '../io.ts';

/**
 * Packs the shards of several inputs, one input after the other, into shared shard objects, so that a
 * group of many small inputs makes a few shards (and the transform job's requests span inputs). An
 * input's shard is a segment of the shared shard open when it starts; the shared shard is closed once
 * a segment ends with it at or over `shardBytes`, so shared shards are about as large as an input's.
 */
export class ShardPacker {
  readonly #openShard: ShardSinkFactory;
  readonly #shardBytes: number;
  #current: { sink: ByteSink; bytes: number } | undefined;
  #opened = 0;

  constructor(openShard: ShardSinkFactory, shardBytes: number) {
    this.#openShard = openShard;
    this.#shardBytes = shardBytes;
  }

  /**
   * The shard sinks of the next input: its nth shard's segment goes into shared shard `placed[n]`.
   * Segments are opened in order, one at a time, as the shard engine does.
   */
  forInput(): { openShard: ShardSinkFactory; placed: number[] } {
    const placed: number[] = [];
    const openShard = async (): Promise<ByteSink> => {
      if (!this.#current) {
        this.#current = { sink: await this.#openShard(this.#opened), bytes: 0 };
        this.#opened++;
      }
      placed.push(this.#opened - 1);
      return this.#segment(this.#current);
    };
    return { openShard, placed };
  }

  /** Closes the last shared shard. */
  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.sink.close();
  }

  async abort(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.sink.abort();
  }

  #segment(shared: { sink: ByteSink; bytes: number }): ByteSink {
    return {
      write: async (chunk) => {
        shared.bytes += chunk.length;
        await shared.sink.write(chunk);
      },
      close: async () => {
        if (shared.bytes < this.#shardBytes || this.#current !== shared) return;
        this.#current = undefined;
        await shared.sink.close();
      },
      abort: () => this.abort(),
    };
  }
}
