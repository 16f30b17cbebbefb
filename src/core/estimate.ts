import type { CalibratedRate, RequestSample } from './calibration.ts';
import type { MeasuredRate } from './image-jobs.ts';
import type { ByteSink, InputFile } from './io.ts';
import { PRICES, type PriceTable } from './prices.ts';
import { BatchPacker, packerOptionsFor } from './records/batches.ts';
import { readerFor, type ShardIndex, shardFile } from './shard/sharder.ts';
import { type CompiledJob, inputReading } from './spec/compile.ts';
import type { JobSpec } from './spec/job.ts';
import { scoresOnEndpoint, scoringReason } from './steps/route.ts';

/** One input read as the Shard step reads it, and the requests each way of scoring would send. */
export interface InputCount {
  readonly input: string;
  readonly records: ShardIndex['records'];
  readonly shards: number;
  /** Bytes the shards hold: what is sent to the model. */
  readonly bytes: number;
  readonly requests: { readonly transform: number; readonly endpoint: number };
}

/**
 * Shards the input as the Shard step would (same framing, filters, quarantine and shard size), with
 * nothing written, and packs each shard's records into requests as the transform job and the endpoint
 * scoring would: under maxPayloadInMB, and under the serverless payload limit when the job may go to an
 * endpoint. The transform job's requests are offered to `sample`, when given, as they are packed.
 */
export async function countInput(
  file: InputFile,
  job: CompiledJob,
  key: string,
  name: string,
  sample?: RequestSample,
): Promise<InputCount> {
  const { spec } = job;
  const shardSplit = job.shards.splitType;
  const multiRecord = spec.batchStrategy === 'MultiRecord';
  const requests = { transform: 0, endpoint: 0 };
  const discard: ByteSink = {
    write: async () => undefined,
    close: async () => undefined,
    abort: async () => undefined,
  };
  const openShard = async (): Promise<ByteSink> => {
    const transform = new BatchPacker(packerOptionsFor(shardSplit, job.transformPayloadBytes, multiRecord));
    const endpoint =
      spec.endpointMaxRecords > 0
        ? new BatchPacker(packerOptionsFor(shardSplit, job.records.maxRecordBytes, multiRecord))
        : undefined;
    const count = (): void => {
      const batches = transform.take();
      requests.transform += batches.length;
      if (sample?.wants) sample.offer(batches);
      requests.endpoint += endpoint?.take().length ?? 0;
    };
    const reader = readerFor(
      {
        input: name,
        splitType: shardSplit,
        decoding: 'none',
        maxRecordBytes: Number.MAX_SAFE_INTEGER,
        requestPerLine: false,
        shardBytes: Number.MAX_SAFE_INTEGER,
      },
      {
        onRecord: (data, record) => {
          transform.add(data, record);
          endpoint?.add(data, record);
        },
        onBadRecord: (bad) => {
          throw new Error(`${name}: record ${bad.record} of a shard cannot be read: ${bad.reason}`);
        },
        onSkipped: () => undefined,
      },
    );
    return {
      write: async (chunk) => {
        reader.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
        count();
      },
      close: async () => {
        reader.end();
        transform.finish();
        endpoint?.finish();
        count();
      },
      abort: async () => undefined,
    };
  };
  const index = await shardFile(file, inputReading(job, key, name), { openShard, errors: discard });
  return {
    input: name,
    records: index.records,
    shards: index.shards.length,
    bytes: index.shards.reduce((sum, shard) => sum + shard.bytes, 0),
    requests,
  };
}

/**
 * One object of a whole-object job (splitType None), counted from its size without reading it: one
 * record, sent as it is (quarantined when over the record limit), read where it is stored.
 */
export function countWholeObject(job: CompiledJob, name: string, size: number): InputCount {
  const sent = size <= job.records.maxRecordBytes ? 1 : 0;
  return {
    input: name,
    records: { in: 1, skipped: 0, errors: 1 - sent, sent },
    shards: 0,
    bytes: sent * size,
    requests: { transform: sent, endpoint: sent },
  };
}

/** What the estimate cannot know from the files: how fast the model is, and SageMaker's overheads. */
export interface Assumptions {
  /** Records one instance (or the endpoint) scores a second. */
  readonly recordsPerSecond: number;
  /** Where recordsPerSecond comes from when it was measured and published rather than given. */
  readonly measured?: MeasuredRate;
  /** Where recordsPerSecond comes from when it was measured here (`--calibrate`) and scaled. */
  readonly calibrated?: CalibratedRate;
  /** Billed minutes of each transform instance before it scores: start, image pull, model load. */
  readonly transformStartupMinutes: number;
  /** Billed minutes of the training job that packages a TF-Hub model. */
  readonly packagingMinutes: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  recordsPerSecond: 100,
  transformStartupMinutes: 5,
  packagingMinutes: 15,
};

/** The assumptions of a published measurement: its rate, whose timing already holds the start-up. */
export function measuredAssumptions(
  rate: MeasuredRate,
  base: Assumptions = DEFAULT_ASSUMPTIONS,
): Assumptions {
  return { ...base, recordsPerSecond: rate.recordsPerSecond, transformStartupMinutes: 0, measured: rate };
}

/**
 * The assumptions of a local calibration: its rate scaled to the instance, whose start-up the
 * calibration excluded, so the start-up assumed stays.
 */
export function calibratedAssumptions(
  rate: CalibratedRate,
  base: Assumptions = DEFAULT_ASSUMPTIONS,
): Assumptions {
  return { ...base, recordsPerSecond: rate.recordsPerSecond, calibrated: rate };
}

/** The instance type of the training job that packages TF-Hub models (the state machine's PackageModel). */
export const PACKAGING_INSTANCE = 'ml.m5.large';

export interface JobEstimate {
  readonly scoring: 'transform' | 'endpoint';
  readonly reason: string;
  readonly inputs: number;
  readonly records: ShardIndex['records'];
  readonly shards: number;
  readonly requests: number;
  readonly transform?: {
    readonly instanceType: string;
    readonly instanceCount: number;
    readonly instanceMinutes: number;
    /** From start to end, the instances scoring side by side. */
    readonly minutes: number;
    readonly cost?: number;
  };
  readonly endpoint?: {
    readonly memorySizeInMB: number;
    readonly maxConcurrency: number;
    readonly computeSeconds: number;
    readonly cost?: number;
  };
  /** A TF-Hub model is packaged first, unless an earlier job packaged the same handle. */
  readonly packaging?: {
    readonly instanceType: string;
    readonly instanceMinutes: number;
    readonly cost?: number;
  };
  /** Absent when the price table has no price for an instance type the job uses. */
  readonly cost?: number;
  readonly prices: Pick<PriceTable, 'region' | 'currency' | 'asOf' | 'source'>;
  readonly assumptions: Assumptions;
}

/** What the job would do and about what it would cost, from its inputs' counts. */
export function estimateJob(
  spec: JobSpec,
  inputs: readonly InputCount[],
  assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
  prices: PriceTable = PRICES,
): JobEstimate {
  const records = { in: 0, skipped: 0, errors: 0, sent: 0 };
  let shards = 0;
  let bytes = 0;
  const requests = { transform: 0, endpoint: 0 };
  for (const input of inputs) {
    for (const key of ['in', 'skipped', 'errors', 'sent'] as const) records[key] += input.records[key];
    shards += input.shards;
    bytes += input.bytes;
    requests.transform += input.requests.transform;
    requests.endpoint += input.requests.endpoint;
  }
  const scoringSeconds = records.sent / assumptions.recordsPerSecond;
  const endpoint = scoresOnEndpoint(spec, records.sent);
  const hourly = (instanceType: string, minutes: number): number | undefined => {
    const price = prices.instanceHour[instanceType];
    return price === undefined ? undefined : (price * minutes) / 60;
  };
  const packaging = spec.model.startsWith('tfhub:')
    ? {
        instanceType: PACKAGING_INSTANCE,
        instanceMinutes: assumptions.packagingMinutes,
        ...optional('cost', hourly(PACKAGING_INSTANCE, assumptions.packagingMinutes)),
      }
    : undefined;
  let scoring: Pick<JobEstimate, 'transform' | 'endpoint'>;
  let scoringCost: number | undefined;
  if (endpoint) {
    const { memorySizeInMB, maxConcurrency } = spec.serverlessConfig;
    const perSecond = prices.serverless.perSecond[String(memorySizeInMB)];
    scoringCost =
      perSecond === undefined
        ? undefined
        : scoringSeconds * perSecond + (bytes / 1024 ** 3) * prices.serverless.perGB;
    scoring = {
      endpoint: {
        memorySizeInMB,
        maxConcurrency,
        computeSeconds: scoringSeconds,
        ...optional('cost', scoringCost),
      },
    };
  } else {
    const { instanceType, instanceCount } = spec;
    const instanceMinutes = instanceCount * assumptions.transformStartupMinutes + scoringSeconds / 60;
    const minutes = assumptions.transformStartupMinutes + scoringSeconds / 60 / instanceCount;
    scoringCost = hourly(instanceType, instanceMinutes);
    scoring = {
      transform: { instanceType, instanceCount, instanceMinutes, minutes, ...optional('cost', scoringCost) },
    };
  }
  const costs = [scoringCost, ...(packaging ? [packaging.cost] : [])];
  const known = costs.every((cost) => cost !== undefined);
  return {
    scoring: endpoint ? 'endpoint' : 'transform',
    reason: scoringReason(spec, records.sent),
    inputs: inputs.length,
    records,
    shards,
    requests: endpoint ? requests.endpoint : requests.transform,
    ...scoring,
    ...(packaging && { packaging }),
    ...(known && { cost: costs.reduce<number>((sum, cost) => sum + (cost ?? 0), 0) }),
    prices: { region: prices.region, currency: prices.currency, asOf: prices.asOf, source: prices.source },
    assumptions,
  };
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}
