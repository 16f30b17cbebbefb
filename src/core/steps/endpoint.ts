import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointInvocationError, InvalidRecordError } from '../errors.ts';
import { abandon, type ByteSink } from '../io.ts';
import { OrderedRequests } from '../ordered-requests.ts';
import type { EndpointInvoker } from '../ports/endpoints.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type Batch, BatchPacker, packerOptionsFor } from '../records/batches.ts';
import { readerFor } from '../shard/sharder.ts';
import type { CompiledJob } from '../spec/compile.ts';
import { outputsPrefix, shardsPrefix } from './layout.ts';

/** A serverless endpoint answers within 60 seconds or not at all. */
const SERVERLESS_TIMEOUT_SECONDS = 60;
const NEWLINE = Buffer.from('\n');

/** Where a job's shards are scored: the endpoint, and the job they belong to. */
interface EndpointTarget {
  readonly jobId: string;
  readonly job: CompiledJob;
  readonly endpoint: string;
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
  jobId: string,
  job: CompiledJob,
  endpoint: string,
): Promise<EndpointScoring> {
  const target: EndpointTarget = { jobId, job, endpoint };
  const prefix = shardsPrefix(jobId);
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  const totals = { shards: keys.length, requests: 0, records: 0 };
  for (const key of keys) {
    const output = `${outputsPrefix(jobId)}${key.slice(prefix.length)}.out`;
    const scored = await scoreShard(store, invoker, target, key, await store.write(output));
    totals.requests += scored.requests;
    totals.records += scored.records;
  }
  return totals;
}

async function scoreShard(
  store: ObjectStore,
  invoker: EndpointInvoker,
  target: EndpointTarget,
  key: string,
  sink: ByteSink,
): Promise<{ requests: number; records: number }> {
  const { spec, records, shards } = target.job;
  const multiRecord = spec.batchStrategy === 'MultiRecord';
  const controller = new AbortController();
  const packer = new BatchPacker(packerOptionsFor(shards.splitType, records.maxRecordBytes, multiRecord));
  const reader = readerFor(
    {
      input: key,
      splitType: shards.splitType,
      decoding: 'none',
      maxRecordBytes: records.maxRecordBytes,
      requestPerLine: !multiRecord,
      shardBytes: records.maxRecordBytes,
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
  const requests = new OrderedRequests<Buffer>(spec.serverlessConfig.maxConcurrency, async (body) => {
    await sink.write(body);
    if (body.length === 0 || body[body.length - 1] !== NEWLINE[0]) await sink.write(NEWLINE);
  });
  const send = (batch: Batch): Promise<void> => {
    counts.requests++;
    counts.records += batch.last - batch.first + 1;
    return requests.add(invoke(invoker, target, key, batch, controller.signal));
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
  target: EndpointTarget,
  key: string,
  batch: Batch,
  signal: AbortSignal,
): Promise<Buffer> {
  const { invocationsTimeoutInSeconds, invocationsMaxRetries } = target.job.spec.modelClientConfig;
  const timeoutMs = Math.min(invocationsTimeoutInSeconds, SERVERLESS_TIMEOUT_SECONDS) * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await invoker.invokeEndpoint({
        endpoint: target.endpoint,
        body: batch.body,
        contentType: target.job.shards.contentType,
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
          `${key}: request for records ${batch.first}-${batch.last} to endpoint ${target.endpoint} failed: ${(error as Error).message}${tries}`,
          false,
          { cause: error },
        );
      }
      await sleep(Math.min(200 * 2 ** (attempt - 1), 2000), undefined, { signal });
    }
  }
}
