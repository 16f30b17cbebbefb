import type { ByteSink } from '../../src/core/io.ts';

/** Named byte objects kept in memory: sinks write them whole on close, sources stream them back. */
export class MemoryObjects {
  readonly objects = new Map<string, Buffer>();

  async sink(name: string): Promise<ByteSink> {
    const parts: Buffer[] = [];
    return {
      write: async (chunk) => {
        parts.push(Buffer.from(chunk));
      },
      close: async () => {
        this.objects.set(name, Buffer.concat(parts));
      },
      abort: async () => {
        parts.length = 0;
      },
    };
  }

  get(name: string): Buffer {
    const object = this.objects.get(name);
    if (!object) throw new Error(`no object ${name}`);
    return object;
  }

  text(name: string): string {
    return this.get(name).toString('utf8');
  }

  /** The object's bytes in chunks of the given sizes (cycled), like a network stream would cut them. */
  async *source(name: string, chunkSizes: readonly number[] = [65536]): AsyncGenerator<Buffer> {
    yield* chunks(this.get(name), chunkSizes);
  }
}

export async function* chunks(data: Buffer, sizes: readonly number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let turn = 0; at < data.length; turn++) {
    const size = Math.max(1, sizes[turn % sizes.length] ?? 1);
    yield data.subarray(at, at + size);
    at += size;
  }
}

export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as unknown);
}
