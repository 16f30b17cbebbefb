import { setTimeout as sleep } from 'node:timers/promises';
import { FramingError, InvalidRecordError, RecordTooLargeError } from '../../core/errors.ts';
import type { ObjectStore } from '../../core/ports/object-store.ts';
import { type Batch, BatchPacker, packerOptionsFor } from '../../core/records/batches.ts';
import type { RecordHandler } from '../../core/records/types.ts';
import { readerFor, type SplitType } from '../../core/shard/sharder.ts';
import type { ContainerClient, ContainerResponse } from './container-client.ts';
import { TransformFailure } from './errors.ts';

/** A transform job's data plane settings, resolved from the request, the container and the defaults. */
export interface TransformPlan {
  readonly job: string;
  /** The S3Uri as the request gave it, to name inputs in failure reasons. */
  readonly inputUri: string;
  /** The store key the S3Uri names: every object whose key starts with it is an input. */
  readonly inputPrefix: string;
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

/**
 * Runs a transform job over every object under the input prefix, in key order, one object at a time
 * with up to `concurrency` requests in flight. Each object's responses are written in input order to
 * `<output prefix><path below the input prefix>.out`, which appears only once the object is done. Like
 * SageMaker, an object that fails leaves no `.out` and the others are still transformed; the job then
 * fails with the first failure's reason. Rejects with the signal's reason when stopped.
 */
export async function runTransform(
  plan: TransformPlan,
  store: ObjectStore,
  client: ContainerClient,
  signal: AbortSignal,
): Promise<void> {
  // Listed whole first, so that outputs written under the input prefix are not taken for inputs.
  const keys: string[] = [];
  for await (const object of store.list(plan.inputPrefix)) keys.push(object.key);
  if (keys.length === 0)
    throw new TransformFailure(`ClientError: No S3 objects found under S3 URL "${plan.inputUri}"`);
  const failures: TransformFailure[] = [];
  for (const key of keys) {
    signal.throwIfAborted();
    try {
      await transformObject(plan, store, client, key, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof TransformFailure)) throw error;
      failures.push(error);
    }
  }
  const [first] = failures;
  if (first && failures.length === 1) throw first;
  if (first) {
    throw new TransformFailure(`${first.message} (${failures.length} of ${keys.length} inputs failed)`, {
      cause: first,
    });
  }
}

async function transformObject(
  plan: TransformPlan,
  store: ObjectStore,
  client: ContainerClient,
  key: string,
  signal: AbortSignal,
): Promise<void> {
  const below = key.slice(plan.inputPrefix.length).replace(/^\/+/, '');
  const file = `${plan.inputUri}${key.slice(plan.inputPrefix.length)}`;
  // An S3Uri naming the object itself leaves nothing below it: the output takes the object's name.
  const outputKey = `${plan.outputPrefix}${below === '' ? key.slice(key.lastIndexOf('/') + 1) : below}.out`;
  const sink = await store.write(outputKey);
  const requests = new RequestWindow(plan, client, file, signal, async (body) => {
    await sink.write(body);
    const ends = body.length > 0 && body[body.length - 1] === NEWLINE[0];
    if (plan.assembleWith === 'Line' && !ends) await sink.write(NEWLINE);
  });
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
      maxPayloadBytes: plan.payloadLimit,
      requestPerLine: !plan.multiRecord,
      shardBytes: plan.payloadLimit,
    },
    handler,
  );
  try {
    for await (const chunk of store.read(key)) {
      reader.push(chunk);
      for (const batch of packer.take()) await requests.submit(batch);
    }
    reader.end();
    packer.finish();
    for (const batch of packer.take()) await requests.submit(batch);
    await requests.finish();
    await sink.close();
  } catch (error) {
    await requests.cancel();
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

/**
 * The requests of one input: at most `concurrency` in flight, their responses written in input order
 * by one writer. A response that arrives early waits for those before it; at most twice `concurrency`
 * requests are between submission and output, which bounds the memory they hold.
 */
class RequestWindow {
  readonly #plan: TransformPlan;
  readonly #client: ContainerClient;
  readonly #file: string;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal;
  readonly #output: (body: Buffer) => Promise<void>;
  readonly #responses = new Map<number, Buffer>();
  #submitted = 0;
  #written = 0;
  #inFlight = 0;
  #writing = false;
  #failure: unknown;
  #waiters: (() => void)[] = [];

  constructor(
    plan: TransformPlan,
    client: ContainerClient,
    file: string,
    signal: AbortSignal,
    output: (body: Buffer) => Promise<void>,
  ) {
    this.#plan = plan;
    this.#client = client;
    this.#file = file;
    this.#signal = AbortSignal.any([signal, this.#controller.signal]);
    this.#output = output;
  }

  /** Sends the batch once there is room; throws the first failure of this input's requests. */
  async submit(batch: Batch): Promise<void> {
    const concurrency = this.#plan.concurrency;
    while (
      this.#failure === undefined &&
      (this.#inFlight >= concurrency || this.#submitted - this.#written >= 2 * concurrency)
    ) {
      await this.#changed();
    }
    if (this.#failure !== undefined) throw this.#failure;
    const sequence = this.#submitted++;
    this.#inFlight++;
    this.#invoke(batch).then(
      (body) => {
        this.#inFlight--;
        this.#responses.set(sequence, body);
        this.#write();
        this.#notify();
      },
      (error: unknown) => {
        this.#inFlight--;
        this.#fail(error);
      },
    );
  }

  /** Waits until every response is written. */
  async finish(): Promise<void> {
    while (this.#failure === undefined && this.#written < this.#submitted) await this.#changed();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Aborts the requests in flight and waits until none is running and nothing more is written. */
  async cancel(): Promise<void> {
    this.#controller.abort();
    while (this.#inFlight > 0 || this.#writing) await this.#changed();
  }

  async #invoke(batch: Batch): Promise<Buffer> {
    const plan = this.#plan;
    const headers: Record<string, string> = {};
    if (plan.contentType !== undefined) headers['Content-Type'] = plan.contentType;
    if (plan.accept !== undefined) headers.Accept = plan.accept;
    for (let attempt = 1; ; attempt++) {
      let outcome: ContainerResponse | Error;
      try {
        outcome = await this.#client.send('POST', '/invocations', {
          body: batch.body,
          headers,
          timeoutMs: plan.timeoutSeconds * 1000,
          signal: this.#signal,
        });
      } catch (error) {
        if (this.#signal.aborted) throw error;
        outcome = error as Error;
      }
      if (!(outcome instanceof Error) && outcome.status >= 200 && outcome.status < 300) {
        plan.onProgress?.({ job: plan.job, records: batch.last - batch.first + 1, requests: attempt });
        return outcome.body;
      }
      if (attempt > plan.maxRetries || !retryable(outcome)) {
        const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
        throw new TransformFailure(
          `ClientError: ${this.#file}: request for records ${batch.first}-${batch.last} failed: ${describe(outcome)}${tries}`,
          outcome instanceof Error ? { cause: outcome } : undefined,
        );
      }
      await sleep(Math.min(100 * 2 ** (attempt - 1), 2000), undefined, { signal: this.#signal });
    }
  }

  /** Writes the responses that are next in order; one writer at a time. */
  #write(): void {
    if (this.#writing) return;
    this.#writing = true;
    void (async () => {
      try {
        for (;;) {
          const body = this.#responses.get(this.#written);
          if (body === undefined || this.#signal.aborted) return;
          this.#responses.delete(this.#written);
          await this.#output(body);
          this.#written++;
          this.#notify();
        }
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#writing = false;
        this.#notify();
      }
    })();
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    this.#controller.abort();
    this.#notify();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
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
