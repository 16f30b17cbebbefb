import { abandon, type ByteSink } from '../io.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { recordTooLarge } from '../records/limits.ts';
import type { CompiledJob } from '../spec/compile.ts';
import { manifestKey } from './layout.ts';

/**
 * The folder every requested input lies in (a folder input is its own folder, a file its parent):
 * the prefix of a whole-object job's manifest, under which the transform job names its outputs.
 */
export function commonFolder(requested: readonly string[]): string {
  const folders = requested.map((key) => key.slice(0, key.lastIndexOf('/') + 1));
  let common = folders[0] ?? '';
  for (const folder of folders) {
    let k = 0;
    while (k < common.length && k < folder.length && common[k] === folder[k]) k++;
    common = common.slice(0, k);
  }
  return common.slice(0, common.lastIndexOf('/') + 1);
}

/** Why a whole object cannot be sent in one request, or undefined when it can. */
export function objectTooLarge(job: CompiledJob, size: number): string | undefined {
  return size > job.transformPayloadBytes ? recordTooLarge(size, job.transformPayloadBytes) : undefined;
}

/**
 * Writes `work/<jobId>/manifest.json` as it is given the objects, in SageMaker's ManifestFile format:
 * a JSON array of `{"prefix": "s3://bucket/<folder>/"}` then each object's key below that prefix.
 */
export class ManifestWriter {
  readonly #sink: ByteSink;
  readonly #prefix: string;
  #objects = 0;

  private constructor(sink: ByteSink, prefix: string) {
    this.#sink = sink;
    this.#prefix = prefix;
  }

  /** `prefix` is a store key (a folder, or '' for the bucket's root); `url` its s3:// URL. */
  static async open(store: ObjectStore, jobId: string, prefix: string, url: string): Promise<ManifestWriter> {
    const writer = new ManifestWriter(await store.write(manifestKey(jobId)), prefix);
    await writer.#write(`[${JSON.stringify({ prefix: url })}`);
    return writer;
  }

  get objects(): number {
    return this.#objects;
  }

  async add(key: string): Promise<void> {
    this.#objects++;
    await this.#write(`,\n${JSON.stringify(key.slice(this.#prefix.length))}`);
  }

  async close(): Promise<void> {
    await this.#write(']\n');
    await this.#sink.close();
  }

  async abort(): Promise<void> {
    await this.#sink.abort();
  }

  async #write(text: string): Promise<void> {
    try {
      await this.#sink.write(Buffer.from(text));
    } catch (error) {
      await abandon([this.#sink], error);
    }
  }
}
