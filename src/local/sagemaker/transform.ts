import { setTimeout as sleep } from 'node:timers/promises';
import {
  FramingError,
  InvalidRecordError,
  ObjectNotFoundError,
  RecordTooLargeError,
} from '../../core/errors.ts';
import { OrderedRequests } from '../../core/ordered-requests.ts';
import { type ObjectStore, readText } from '../../core/ports/object-store.ts';
import { type Batch, BatchPacker, packerOptionsFor } from '../../core/records/batches.ts';
import type { RecordHandler } from '../../core/records/types.ts';
import { readerFor } from '../../core/shard/sharder.ts';
import type { SplitType } from '../../core/spec/split-types.ts';
import { TransformFailure } from '../errors.ts';
import type { ContainerClient, ContainerResponse } from './container-client.ts';

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
const EXCERPT_CHARS = 200;

/** An object a transform job reads, and its name below the input prefix (or the manifest's prefix). */
export interface TransformObject {
  readonly key: string;
  readonly relative: string;
  /** Its s3:// URL, to name it in failure reasons. */
  readonly url: string;
}

/**
 * Runs a transform job over every object under the input prefix (or listed in the manifest), in order,
 * one object at a time with up to `concurrency` requests in flight. Each object's responses are written
 * in input order to `<output prefix><relative name>.out`, which appears only once the object is done. Like
 * SageMaker, an object that fails leaves no `.out` and the others are still transformed; the job then
 * fails with the first failure's reason. Rejects with the signal's reason when stopped.
 */
export async function runTransform(
  plan: TransformPlan,
  store: ObjectStore,
  client: ContainerClient,
  signal: AbortSignal,
): Promise<void> {
  const objects = await transformObjects(plan, store);
  const failures: TransformFailure[] = [];
  for (const object of objects) {
    signal.throwIfAborted();
    try {
      await transformObject(plan, store, client, object, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof TransformFailure)) throw error;
      failures.push(error);
    }
  }
  const [first] = failures;
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
  { key, relative, url: file }: TransformObject,
  signal: AbortSignal,
): Promise<void> {
  const outputKey = `${plan.outputPrefix}${relative}.out`;
  const sink = await store.write(outputKey);
  // Requests of this input end with it: when one fails, the others are called off.
  const controller = new AbortController();
  const requestSignal = AbortSignal.any([signal, controller.signal]);
  const requests = new OrderedRequests<Buffer>(plan.concurrency, async (body) => {
    await sink.write(body);
    const ends = body.length > 0 && body[body.length - 1] === NEWLINE[0];
    if (plan.assembleWith === 'Line' && !ends) await sink.write(NEWLINE);
  });
  const submit = (batch: Batch) => requests.add(invoke(plan, client, file, batch, requestSignal));
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
    for await (const chunk of store.read(key)) {
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
    // A framing error names the input itself.
    const reason = error instanceof FramingError ? error.message : `${file}: ${(error as Error).message}`;
    throw new TransformFailure(`ClientError: ${reason}`, { cause: error });
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
    let outcome: ContainerResponse | Error;
    try {
      outcome = await client.send('POST', '/invocations', {
        body: batch.body,
        headers,
        timeoutMs: plan.timeoutSeconds * 1000,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      outcome = error as Error;
    }
    if (!(outcome instanceof Error) && outcome.status >= 200 && outcome.status < 300) {
      plan.onProgress?.({ job: plan.job, records: batch.last - batch.first + 1, requests: attempt });
      return outcome.body;
    }
    if (attempt > plan.maxRetries || !retryable(outcome)) {
      const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
      throw new TransformFailure(
        `ClientError: ${file}: request for records ${batch.first}-${batch.last} failed: ${describe(outcome)}${tries}`,
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

function describe(outcome: ContainerResponse | Error): string {
  if (outcome instanceof Error) return outcome.message;
  const text = outcome.body.toString('utf8', 0, Math.min(outcome.body.length, EXCERPT_CHARS * 4));
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, EXCERPT_CHARS);
  return excerpt === '' ? `${outcome.status}` : `${outcome.status} ${excerpt}`;
}
