import { ObjectNotFoundError } from '../../src/core/errors.ts';
import type { ByteSink } from '../../src/core/io.ts';
import type { ObjectStore, StoredObject } from '../../src/core/ports/object-store.ts';

/**
 * An object store in memory, with folders of many objects that are only listed (their bytes are never
 * read): a bucket of 100,000 inputs costs nothing to set up.
 */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  readonly #listed: { prefix: string; count: number; size: number; name: (k: number) => string }[] = [];

  /** `count` objects of `size` bytes under `prefix`, named `name(k)`, which must sort as k does. */
  addListedFolder(prefix: string, count: number, size: number, name: (k: number) => string): void {
    this.#listed.push({ prefix, count, size, name });
  }

  async *read(key: string): AsyncIterable<Buffer> {
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(key);
    yield object;
  }

  async write(key: string): Promise<ByteSink> {
    const parts: Buffer[] = [];
    return {
      write: async (chunk) => {
        parts.push(Buffer.from(chunk));
      },
      close: async () => {
        this.objects.set(key, Buffer.concat(parts));
      },
      abort: async () => {
        parts.length = 0;
      },
    };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const object = this.objects.get(key);
    return object ? stored(key, object.length) : undefined;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const found: StoredObject[] = [];
    for (const [key, object] of this.objects)
      if (key.startsWith(prefix)) found.push(stored(key, object.length));
    found.sort((a, b) => (a.key < b.key ? -1 : 1));
    yield* found;
    for (const folder of this.#listed) {
      if (!folder.prefix.startsWith(prefix)) continue;
      for (let k = 0; k < folder.count; k++) yield stored(`${folder.prefix}${folder.name(k)}`, folder.size);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for (const key of [...this.objects.keys()]) {
      if (key.startsWith(prefix)) {
        this.objects.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  /** The keys written under `prefix`, in order. */
  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
}

function stored(key: string, size: number): StoredObject {
  return { key, size, etag: `${size}`, lastModified: new Date(0) };
}
