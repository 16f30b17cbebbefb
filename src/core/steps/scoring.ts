import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidRecordError } from '../errors.ts';
import { abandon, type ByteSink } from '../io.ts';
import { OrderedRequests } from '../ordered-requests.ts';
import { EndpointInvocationError, type EndpointInvoker } from '../ports/endpoints.ts';
import { type ObjectStore, readText } from '../ports/object-store.ts';
import { type Batch, BatchPacker, packerOptionsFor } from '../records/batches.ts';
import type { SplitType } from '../shard/block.ts';
import { readerFor, type ShardIndex } from '../shard/sharder.ts';
import { type JobSpec, maxRecordBytes } from '../spec/job.ts';
import { indexKey, outputsPrefix, shardsPrefix } from './layout.ts';
import type { Plan } from './plan.ts';

/** A serverless endpoint answers within 60 seconds or not at all. */
const SERVERLESS_TIMEOUT_SECONDS = 60;
const NEWLINE = Buffer.from('\n');

/** Whether a job of this many records is scored on a serverless endpoint rather than by a transform job. */
export function scoresOnEndpoint(spec: JobSpec, records: number): boolean {
  return records < spec.endpointMaxRecords;
}

/** Why a job of this many records is scored as it is; `complete` is false when counting stopped early. */
export function scoringReason(spec: JobSpec, records: number, complete = true): string {
  const threshold = spec.endpointMaxRecords;
  if (threshold === 0) return 'endpointMaxRecords is 0';
  return scoresOnEndpoint(spec, records)
    ? `${records} records, fewer than endpointMaxRecords ${threshold}`
    : `${records}${complete ? '' : ' or more'} records, not fewer than endpointMaxRecords ${threshold}`;
}

export interface ScoringChoice {
  /** No record reached a shard (all quarantined, or empty inputs): nothing is sent to a model. */
  readonly empty: boolean;
  readonly endpoint: boolean;
  /** The serving image the model is created with: a serverless endpoint runs on CPU. */
  readonly image: string;
  readonly reason: string;
}

/**
 * Route step, once every input is sharded: the records to score are known exactly (the plan, before
 * reading the inputs, could only guess them from sizes), and a job of fewer than endpointMaxRecords goes
 * to a serverless endpoint. Counting stops at the threshold. A job with nothing to score (every record
 * quarantined) skips the model altogether and goes on to Merge, which writes the errors.
 */
export async function chooseScoringStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'spec' | 'inputs'> & { model: Pick<Plan['model'], 'image' | 'serverlessImage'> },
): Promise<ScoringChoice> {
  const sent = async (input: Plan['inputs'][number]) =>
    (JSON.parse(await readText(store, indexKey(plan.jobId, input.index))) as ShardIndex).records.sent;
  let empty = true;
  for (const input of plan.inputs) {
    if ((await sent(input)) > 0) {
      empty = false;
      break;
    }
  }
  const transform = { empty, endpoint: false, image: plan.model.image };
  if (plan.spec.endpointMaxRecords === 0) return { ...transform, reason: scoringReason(plan.spec, 0) };
  let records = 0;
  for (const [k, input] of plan.inputs.entries()) {
    records += await sent(input);
    if (!scoresOnEndpoint(plan.spec, records)) {
      return { ...transform, reason: scoringReason(plan.spec, records, k === plan.inputs.length - 1) };
    }
  }
  return {
    empty,
    endpoint: true,
    image: plan.model.serverlessImage,
    reason: scoringReason(plan.spec, records),
  };
}

export interface EndpointJob {
  readonly jobId: string;
  readonly spec: JobSpec;
  readonly endpoint: string;
  /** How the shards are read, as the transform job would read them. */
  readonly contentType: string;
  readonly splitType: SplitType;
}

export interface EndpointScoring {
  readonly shards: number;
  readonly requests: number;
  readonly records: number;
}

/**
 * ScoreOnEndpoint step: every shard under `work/<jobId>/shards/`, in key order, sent to the endpoint in
 * requests packed as the transform job packs them (the batch strategy, at most the serverless payload
 * limit each), up to the endpoint's MaxConcurrency at once; the responses go, in order and one per
 * line, to the `.out` file the transform job would write, so Merge reads the same layout either way.
 * Failed requests are retried as ModelClientConfig says.
 */
export async function scoreOnEndpointStep(
  store: ObjectStore,
  invoker: EndpointInvoker,
  job: EndpointJob,
): Promise<EndpointScoring> {
  const prefix = shardsPrefix(job.jobId);
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  const totals = { shards: keys.length, requests: 0, records: 0 };
  for (const key of keys) {
    const output = `${outputsPrefix(job.jobId)}${key.slice(prefix.length)}.out`;
    const scored = await scoreShard(store, invoker, job, key, await store.write(output));
    totals.requests += scored.requests;
    totals.records += scored.records;
  }
  return totals;
}

async function scoreShard(
  store: ObjectStore,
  invoker: EndpointInvoker,
  job: EndpointJob,
  key: string,
  sink: ByteSink,
): Promise<{ requests: number; records: number }> {
  const { spec } = job;
  const limit = maxRecordBytes(spec);
  const multiRecord = spec.batchStrategy === 'MultiRecord';
  const concurrency = spec.serverlessConfig.maxConcurrency;
  const controller = new AbortController();
  const packer = new BatchPacker(packerOptionsFor(job.splitType, limit, multiRecord));
  const reader = readerFor(
    {
      input: key,
      splitType: job.splitType,
      decoding: 'none',
      maxRecordBytes: limit,
      requestPerLine: !multiRecord,
      shardBytes: limit,
    },
    {
      onRecord: (data, record) => packer.add(data, record),
      // The Shard step wrote only records that can be sent: anything else is a damaged shard.
      onBadRecord: (bad) => {
        throw new InvalidRecordError(`${key}: record ${bad.record} cannot be read: ${bad.reason}`);
      },
      onSkipped: () => undefined,
    },
  );
  const counts = { requests: 0, records: 0 };
  const requests = new OrderedRequests<Buffer>(concurrency, async (body) => {
    await sink.write(body);
    if (body.length === 0 || body[body.length - 1] !== NEWLINE[0]) await sink.write(NEWLINE);
  });
  const send = (batch: Batch): Promise<void> => {
    counts.requests++;
    counts.records += batch.last - batch.first + 1;
    return requests.add(invoke(invoker, job, key, batch, controller.signal));
  };
  try {
    for await (const chunk of store.read(key)) {
      reader.push(chunk);
      for (const batch of packer.take()) await send(batch);
    }
    reader.end();
    packer.finish();
    for (const batch of packer.take()) await send(batch);
    await requests.finish();
    await sink.close();
  } catch (error) {
    controller.abort();
    await abandon([sink], error, requests.settle());
  }
  return counts;
}

/** One request, sent again while the endpoint's failure is retryable and retries are left. */
async function invoke(
  invoker: EndpointInvoker,
  job: EndpointJob,
  key: string,
  batch: Batch,
  signal: AbortSignal,
): Promise<Buffer> {
  const { invocationsTimeoutInSeconds, invocationsMaxRetries } = job.spec.modelClientConfig;
  const timeoutMs = Math.min(invocationsTimeoutInSeconds, SERVERLESS_TIMEOUT_SECONDS) * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await invoker.invokeEndpoint({
        endpoint: job.endpoint,
        body: batch.body,
        contentType: job.contentType,
        accept: 'application/jsonlines',
        timeoutMs,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      const retryable = error instanceof EndpointInvocationError && error.retryable;
      if (!retryable || attempt > invocationsMaxRetries) {
        const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
        throw new EndpointInvocationError(
          `${key}: request for records ${batch.first}-${batch.last} to endpoint ${job.endpoint} failed: ${(error as Error).message}${tries}`,
          false,
          { cause: error },
        );
      }
      await sleep(Math.min(200 * 2 ** (attempt - 1), 2000), undefined, { signal });
    }
  }
}
