import { setTimeout as sleep } from 'node:timers/promises';
import {
  DecompressionError,
  FramingError,
  InvalidRecordError,
  ObjectNotFoundError,
  RecordTooLargeError,
} from '../../core/errors.ts';
import { Permits } from '../../core/permits.ts';
import { type ObjectStore, readText } from '../../core/ports/object-store.ts';
import { type Batch, BatchPacker, packerOptionsFor } from '../../core/records/batches.ts';
import { gunzipped } from '../../core/records/gzip.ts';
import type { RecordHandler } from '../../core/records/types.ts';
import { readerFor } from '../../core/shard/sharder.ts';
import type { SplitType } from '../../core/spec/split-types.ts';
import { TransformFailure } from '../errors.ts';
import {
  type ContainerClient,
  type ContainerResponse,
  describeFailure,
  invocation,
  succeeded,
} from './container-client.ts';

/** A transform job's data plane settings, resolved from the request, the container and the defaults. */
export interface TransformPlan {
  readonly job: string;
  /** The S3Uri as the request gave it, to name inputs in failure reasons. */
  readonly inputUri: string;
  /** `S3Prefix`: every object whose key starts with the S3Uri's is an input; `ManifestFile`: the S3Uri is a manifest of them. */
  readonly dataType: 'S3Prefix' | 'ManifestFile';
  /** The store key the S3Uri names. */
  readonly inputPrefix: string;
  /** s3://<bucket>/<key> as a key of the store; throws for a URL outside it. */
  readonly keyOf: (url: string) => string;
  /** The store key the S3OutputPath names, empty or ending in '/'. */
  readonly outputPrefix: string;
  readonly splitType: SplitType;
  /** CompressionType Gzip: each object is decompressed as it is read, and a damaged one fails alone. */
  readonly gzip: boolean;
  readonly multiRecord: boolean;
  /** The most bytes in one request body. */
  readonly payloadLimit: number;
  readonly concurrency: number;
  readonly contentType?: string;
  readonly accept?: string;
  readonly assembleWith: 'Line' | 'None';
  readonly timeoutSeconds: number;
  readonly maxRetries: number;
  /** Called as requests complete: the records in that request and the attempts it took. */
  readonly onProgress?: (event: { job: string; records: number; requests: number }) => void;
}

const NEWLINE = Buffer.from('\n');

/** An object a transform job reads, and its name below the input prefix (or the manifest's prefix). */
export interface TransformObject {
  readonly key: string;
  readonly relative: string;
  /** Its s3:// URL, to name it in failure reasons. */
  readonly url: string;
}

/**
 * The most objects open at once, each with an input being read and an output being written, however
 * high MaxConcurrentTransforms is: it keeps the job's descriptors well under the usual limit of 1,024.
 */
const MAX_OPEN_OBJECTS = 256;

/**
 * Runs a transform job over every object under the input prefix (or listed in the manifest), in order,
 * with up to `concurrency` requests out across objects, as SageMaker's agent does: many small objects
 * are transformed side by side, a large one request beside request. Up to `concurrency` objects (at
 * most MAX_OPEN_OBJECTS) are open at once, started in order as others end. Each object's responses are
 * written in input order to `<output prefix><relative name>.out`, which appears only once the object
 * is done. Like SageMaker, an object that fails leaves no `.out` and the others are
 * still transformed; the job then fails with the reason of the first failed object in key order and
 * how many failed. Rejects with the signal's reason when stopped, once every open object has let go of
 * its requests and partial output.
 */
export async function runTransform(
  plan: TransformPlan,
  store: ObjectStore,
  client: ContainerClient,
  signal: AbortSignal,
): Promise<void> {
  const objects = await transformObjects(plan, store);
  const failures: { index: number; failure: TransformFailure }[] = [];
  // An error that is no object's own failure ends the job: the objects still open are called off.
  const fatal = new AbortController();
  const jobSignal = AbortSignal.any([signal, fatal.signal]);
  const permits = new Permits(plan.concurrency);
  const open = new Set<Promise<void>>();
  const window = Math.min(plan.concurrency, MAX_OPEN_OBJECTS);
  for (const [index, object] of objects.entries()) {
    if (open.size >= window) await Promise.race(open);
    if (jobSignal.aborted) break;
    const transformed: Promise<void> = transformObject(plan, store, client, permits, object, jobSignal)
      .catch((error: unknown) => {
        if (jobSignal.aborted) return;
        if (error instanceof TransformFailure) failures.push({ index, failure: error });
        else fatal.abort(error);
      })
      .finally(() => open.delete(transformed));
    open.add(transformed);
  }
  await Promise.all(open);
  signal.throwIfAborted();
  if (fatal.signal.aborted) throw fatal.signal.reason;
  const [first] = failures.sort((a, b) => a.index - b.index).map(({ failure }) => failure);
  if (first && failures.length === 1) throw first;
  if (first) {
    throw new TransformFailure(`${first.message} (${failures.length} of ${objects.length} inputs failed)`, {
      cause: first,
    });
  }
}

/**
 * The objects the job reads, in order: listed whole first under the prefix (so that outputs written
 * there are not taken for inputs), or read from the manifest, refused as SageMaker refuses one that is
 * not a JSON array of `{"prefix": "s3://..."}` then keys below it.
 */
export async function transformObjects(plan: TransformPlan, store: ObjectStore): Promise<TransformObject[]> {
  const objects: TransformObject[] = [];
  if (plan.dataType === 'ManifestFile') {
    const manifest = await readManifest(plan, store);
    const prefix = plan.keyOf(manifest.prefix);
    for (const relative of manifest.keys) {
      objects.push({ key: `${prefix}${relative}`, relative, url: `${manifest.prefix}${relative}` });
    }
  } else {
    for await (const { key } of store.list(plan.inputPrefix)) {
      const below = key.slice(plan.inputPrefix.length).replace(/^\/+/, '');
      // An S3Uri naming the object itself leaves nothing below it: the output takes the object's name.
      const relative = below === '' ? key.slice(key.lastIndexOf('/') + 1) : below;
      objects.push({ key, relative, url: `${plan.inputUri}${key.slice(plan.inputPrefix.length)}` });
    }
  }
  if (objects.length === 0) {
    const where = plan.dataType === 'ManifestFile' ? 'listed in the manifest at' : 'found under';
    throw new TransformFailure(`ClientError: No S3 objects ${where} S3 URL "${plan.inputUri}"`);
  }
  return objects;
}

async function readManifest(
  plan: TransformPlan,
  store: ObjectStore,
): Promise<{ prefix: string; keys: string[] }> {
  const refuse = (reason: string): never => {
    throw new TransformFailure(
      `ClientError: ValidationError: the manifest file at S3 URL "${plan.inputUri}" ${reason}`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(store, plan.inputPrefix));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) refuse('does not exist');
    if (!(error instanceof SyntaxError)) throw error;
    refuse(`is not valid JSON: ${error.message}`);
  }
  if (!Array.isArray(parsed)) return refuse('is not a JSON array');
  const [head, ...keys] = parsed as unknown[];
  const prefix = (head as { prefix?: unknown } | undefined)?.prefix;
  if (typeof prefix !== 'string' || !prefix.startsWith('s3://')) {
    return refuse('does not start with {"prefix": "s3://..."}');
  }
  const bad = keys.findIndex((key) => typeof key !== 'string' || key === '');
  if (bad !== -1) refuse(`has an entry that is not an object key, at index ${bad + 1}`);
  return { prefix, keys: keys as string[] };
}

async function transformObject(
  plan: TransformPlan,
  store: ObjectStore,
  client: ContainerClient,
  permits: Permits,
  { key, relative, url: file }: TransformObject,
  signal: AbortSignal,
): Promise<void> {
  const outputKey = `${plan.outputPrefix}${relative}.out`;
  const sink = await store.write(outputKey);
  // Requests of this input end with it: when one fails, the others are called off.
  const controller = new AbortController();
  const requestSignal = AbortSignal.any([signal, controller.signal]);
  const requests = new SharedOrderedRequests(permits, requestSignal, async (body) => {
    await sink.write(body);
    const ends = body.length > 0 && body[body.length - 1] === NEWLINE[0];
    if (plan.assembleWith === 'Line' && !ends) await sink.write(NEWLINE);
  });
  const submit = (batch: Batch) => requests.send(() => invoke(plan, client, file, batch, requestSignal));
  const packer = new BatchPacker(packerOptionsFor(plan.splitType, plan.payloadLimit, plan.multiRecord));
  const handler: RecordHandler = {
    onRecord: (data, record) => packer.add(data, record),
    onBadRecord: (bad) => {
      if (bad.size > plan.payloadLimit)
        throw new RecordTooLargeError(bad.record, bad.size, plan.payloadLimit);
      throw new InvalidRecordError(`record ${bad.record} cannot be read: ${bad.reason}`);
    },
    // An empty line is not a record (the Shard step counts it as skipped): nothing is sent for it.
    onSkipped: () => undefined,
  };
  // The Shard step's reader options: only the framing ones matter here.
  const reader = readerFor(
    {
      input: file,
      splitType: plan.splitType,
      decoding: 'none',
      maxRecordBytes: plan.payloadLimit,
      requestPerLine: !plan.multiRecord,
      shardBytes: plan.payloadLimit,
    },
    handler,
  );
  try {
    for await (const chunk of plan.gzip ? gunzipped(store.read(key), file) : store.read(key)) {
      reader.push(chunk);
      for (const batch of packer.take()) await submit(batch);
    }
    reader.end();
    packer.finish();
    for (const batch of packer.take()) await submit(batch);
    await requests.finish();
    await sink.close();
  } catch (error) {
    controller.abort();
    await requests.settle();
    try {
      await sink.abort();
    } catch (cleanup) {
      throw new AggregateError([error, cleanup], `${file}: its partial output could not be removed`);
    }
    if (signal.aborted || error instanceof TransformFailure) throw error;
    // A framing or decompression error names the input itself.
    const named = error instanceof FramingError || error instanceof DecompressionError;
    const reason = named ? error.message : `${file}: ${(error as Error).message}`;
    throw new TransformFailure(`ClientError: ${reason}`, { cause: error });
  }
}

/**
 * The requests of one object, sent as permits shared with the other objects allow and answered in any
 * order, their answers handed on in request order as soon as each one's turn comes. A request holds its
 * permit from before it is sent until its answer is handed on, so the answers held back wait within the
 * job's limit. Handing on eagerly, not when the next request is made, is what lets objects share the
 * permits: an object waiting for one never holds answers, and so permits, back.
 */
class SharedOrderedRequests {
  readonly #permits: Permits;
  readonly #signal: AbortSignal;
  readonly #deliver: (answer: Buffer) => Promise<void>;
  /** Settles when every answer so far is handed on; rejects with the first failure in request order. */
  #delivered: Promise<void> = Promise.resolve();
  #failed = false;
  /** Requests holding a permit. */
  readonly #out = new Set<Promise<void>>();

  constructor(permits: Permits, signal: AbortSignal, deliver: (answer: Buffer) => Promise<void>) {
    this.#permits = permits;
    this.#signal = signal;
    this.#deliver = deliver;
  }

  /** Waits for a permit and sends the request; throws a failure of the requests before it, once its turn has come. */
  async send(request: () => Promise<Buffer>): Promise<void> {
    if (this.#failed) await this.#delivered;
    await this.#permits.take(this.#signal);
    const answer = request();
    // Awaited in turn below; a failure must not go unhandled meanwhile.
    answer.catch(() => undefined);
    const delivered = this.#delivered.then(() => answer).then(this.#deliver);
    delivered.catch(() => {
      this.#failed = true;
    });
    this.#delivered = delivered;
    const out: Promise<void> = Promise.allSettled([answer, delivered]).then(() => {
      this.#out.delete(out);
      this.#permits.give();
    });
    this.#out.add(out);
  }

  /** Waits until every answer is handed on; rejects with the first failure in request order. */
  finish(): Promise<void> {
    return this.#delivered;
  }

  /** Waits until no request holds a permit any more (once they are aborted, say). */
  async settle(): Promise<void> {
    await Promise.all([...this.#out]);
  }
}

/** One request to the container, sent again while its failure is retryable and retries are left. */
async function invoke(
  plan: TransformPlan,
  client: ContainerClient,
  file: string,
  batch: Batch,
  signal: AbortSignal,
): Promise<Buffer> {
  const headers: Record<string, string> = {};
  if (plan.contentType !== undefined) headers['Content-Type'] = plan.contentType;
  if (plan.accept !== undefined) headers.Accept = plan.accept;
  for (let attempt = 1; ; attempt++) {
    const outcome = await invocation(client, {
      body: batch.body,
      headers,
      timeoutMs: plan.timeoutSeconds * 1000,
      signal,
    });
    if (succeeded(outcome)) {
      plan.onProgress?.({ job: plan.job, records: batch.last - batch.first + 1, requests: attempt });
      return outcome.body;
    }
    if (attempt > plan.maxRetries || !retryable(outcome)) {
      const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
      throw new TransformFailure(
        `ClientError: ${file}: request for records ${batch.first}-${batch.last} failed: ${describeFailure(outcome)}${tries}`,
        outcome instanceof Error ? { cause: outcome } : undefined,
      );
    }
    await sleep(Math.min(100 * 2 ** (attempt - 1), 2000), undefined, { signal });
  }
}

/**
 * Which failed requests are sent again. A 5xx, 408 or 429 answer, a timeout and a broken connection can
 * pass on a retry; any other 4xx is the container refusing the request itself (TFS answers 400 for
 * input it cannot read), which the same bytes would get again, so it fails at once.
 */
function retryable(outcome: ContainerResponse | Error): boolean {
  if (outcome instanceof Error) return true;
  return outcome.status >= 500 || outcome.status === 408 || outcome.status === 429;
}
