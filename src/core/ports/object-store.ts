import { abandon, type ByteRange, type ByteSink, type InputFile } from '../io.ts';

/**
 * Where inputs, work files and results live: an S3 bucket in the cloud, a local folder on one machine.
 * Keys use '/' as the separator, as S3 does.
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  /** Changes whenever the object's content is replaced (S3's ETag; size and time locally). */
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ObjectStore {
  /**
   * The object's bytes as a stream of chunks, or only those of `range` (an end past the object's
   * reads to its end). A chunk stays valid while the next one is read and may be overwritten when the
   * one after is asked for: copy what you keep. Throws ObjectNotFoundError.
   */
  read(key: string, range?: ByteRange): AsyncIterable<Buffer>;
  /** A sink whose bytes become the object when it is closed, whole: nobody sees a partial object. */
  write(key: string): Promise<ByteSink>;
  head(key: string): Promise<StoredObject | undefined>;
  /** The objects whose keys start with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Deletes every object whose key starts with `prefix`; how many there were. */
  deletePrefix(prefix: string): Promise<number>;
}

/**
 * Key order as S3 lists keys: by the UTF-8 bytes of the keys, which is code point order. JavaScript's
 * own string order compares UTF-16 units, in which a character past U+FFFF (a surrogate pair) comes
 * before U+E000-U+FFFF instead of after every other character.
 */
export function compareKeys(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length);
  for (let k = 0; k < shorter; k++) {
    const x = a.charCodeAt(k);
    const y = b.charCodeAt(k);
    if (x === y) continue;
    const xPair = x >= 0xd800 && x <= 0xdfff;
    const yPair = y >= 0xd800 && y <= 0xdfff;
    if (xPair !== yPair) return xPair ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Small objects (specs, indexes, summaries) read whole. */
export async function readText(store: ObjectStore, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(key)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

export async function writeText(store: ObjectStore, key: string, text: string): Promise<void> {
  const sink = await store.write(key);
  try {
    await sink.write(Buffer.from(text));
  } catch (error) {
    await abandon([sink], error);
  }
  await sink.close();
}

/** An object as an input to read, whole or in ranges; `size` as the plan found it. */
export function storedInput(store: ObjectStore, key: string, size: number): InputFile {
  return { size, read: (range) => store.read(key, range) };
}
