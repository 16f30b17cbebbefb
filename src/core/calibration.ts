import type { Batch } from './records/batches.ts';

/**
 * `pipeline plan --calibrate`: the model's rate measured on this machine, on the job's own records
 * packed as the transform job would send them, and scaled to the job's instance type by a stated,
 * assumed factor. This module holds what is pure: the sample, the bounds, the factors and the rate.
 */

/** How long and how much a calibration scores, whichever ends it first (both printed with the rate). */
export interface CalibrationLimits {
  /** Seconds of timed scoring; the requests under way then are waited for and counted. */
  readonly seconds: number;
  /** Records scored, at most: no request is sent once this many have been. */
  readonly records: number;
  /** Bytes of requests held in the sample (at least one request is, however large). */
  readonly sampleBytes: number;
}

/**
 * Long enough that a small model's rate is not mostly noise (about a second for the bundled iris
 * model on two cores), short enough that a large one is measured in a few seconds.
 */
export const CALIBRATION_LIMITS: CalibrationLimits = {
  seconds: 3,
  records: 50_000,
  sampleBytes: 16 * 1024 * 1024,
};

/**
 * The first requests the transform job would send, as it would pack them: offered as the inputs are
 * read, kept until they hold `limits.records` records or `limits.sampleBytes` bytes.
 */
export class RequestSample {
  readonly requests: Batch[] = [];
  #records = 0;
  #bytes = 0;
  readonly #limits: CalibrationLimits;

  constructor(limits: CalibrationLimits = CALIBRATION_LIMITS) {
    this.#limits = limits;
  }

  /** Whether another request would be kept. */
  get wants(): boolean {
    return this.#records < this.#limits.records && this.#bytes < this.#limits.sampleBytes;
  }

  /** Records in the requests kept. */
  get records(): number {
    return this.#records;
  }

  offer(batches: readonly Batch[]): void {
    for (const batch of batches) {
      if (!this.wants) return;
      this.requests.push(batch);
      this.#records += recordsIn(batch);
      this.#bytes += batch.body.length;
    }
  }
}

export function recordsIn(batch: Batch): number {
  return batch.last - batch.first + 1;
}

/** What the local calibration measured. */
export interface Calibration {
  /** The model as the job spec names it. */
  readonly model: string;
  /** Records in the timed requests that were answered with success. */
  readonly records: number;
  /** From the first timed request sent to the last answer: start-up and the warm-up excluded. */
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly requests: number;
  /** Timed requests the model answered with an error (their records are not counted). */
  readonly failedRequests: number;
  /** The first failure's reason, when a request failed. */
  readonly failure?: string;
  /** Requests kept out at once: the job's maxConcurrentTransforms. */
  readonly concurrency: number;
  /** Inference threads the local model server ran: the cores of this machine it used. */
  readonly cores: number;
  readonly limits: Pick<CalibrationLimits, 'seconds' | 'records'>;
}

/** How the local rate is scaled to where the job would score, and why. */
export interface SpeedFactor {
  readonly factor: number;
  /** Where it would score, for people: an instance type, or a serverless endpoint. */
  readonly target: string;
  /** Why this factor, for people; always says it is assumed. */
  readonly basis: string;
}

/**
 * Assumed speed-ups of one GPU instance over the local model server, by family. None of these was
 * measured: they are round guesses, far under the ratio of the GPUs' peak FP32 throughput to a few
 * CPU cores' (a V100 is about 15 TFLOPS, a server CPU core well under 0.2), because the small models
 * and requests of batch jobs seldom keep a GPU near its peak and the request handling around the model
 * runs on the CPU anyway. TF Serving places a model on the instance's first GPU, so instances with
 * several GPUs get the same factor. Rerun the job on the real instance to know.
 */
const GPU_FACTORS: Readonly<Record<string, { factor: number; gpu: string }>> = {
  p2: { factor: 2, gpu: 'K80' },
  g4dn: { factor: 4, gpu: 'T4' },
  p3: { factor: 8, gpu: 'V100' },
  g5: { factor: 8, gpu: 'A10G' },
  p4d: { factor: 16, gpu: 'A100' },
};

/**
 * CPU families whose sizes follow the usual vCPU count (large 2, xlarge 4, Nxlarge 4N). Their factor is
 * their vCPUs over the cores the local model server used, assuming a vCPU there as fast as a core here.
 */
const CPU_FAMILIES = /^(m4|m5|m5d|m6i|m7i|c4|c5|c5d|c6i|c7i|r5|r5d|r6i|r7i|t2|t3)$/;

/** The vCPUs of a CPU instance size (large, xlarge, 2xlarge...), or undefined for another name. */
function vcpusOf(size: string): number | undefined {
  if (size === 'medium') return 1;
  if (size === 'large') return 2;
  if (size === 'xlarge') return 4;
  const multiple = /^(\d+)xlarge$/.exec(size)?.[1];
  return multiple === undefined ? undefined : 4 * Number(multiple);
}

const RERUN = 'rerun on the real instance to know';

/**
 * The factor from the local rate (on `cores` cores) to one `instanceType` instance, or to a serverless
 * endpoint when `endpoint`.
 */
export function speedFactor(instanceType: string, cores: number, endpoint = false): SpeedFactor {
  if (endpoint) {
    return {
      factor: 1,
      target: 'a serverless endpoint',
      basis: 'assumed as fast as this machine: serverless endpoints run on CPUs; measure it there to know',
    };
  }
  const [, family = '', size = ''] = instanceType.split('.');
  const gpu = GPU_FACTORS[family];
  if (gpu) {
    return {
      factor: gpu.factor,
      target: instanceType,
      basis: `assumed speed-up of its ${gpu.gpu} GPU over the ${count(cores, 'core')} used here; ${RERUN}`,
    };
  }
  const vcpus = CPU_FAMILIES.test(family) ? vcpusOf(size) : undefined;
  if (vcpus !== undefined) {
    return {
      factor: vcpus / cores,
      target: instanceType,
      basis: `its ${vcpus} vCPUs over the ${count(cores, 'core')} used here, assumed as fast each; ${RERUN}`,
    };
  }
  return {
    factor: 1,
    target: instanceType,
    basis: `no speed-up is known for ${instanceType}, so the rate measured here is taken as it is; ${RERUN}`,
  };
}

/** A calibration and the factor that scales it: the rate an estimate uses, and where it comes from. */
export interface CalibratedRate {
  readonly calibration: Calibration;
  readonly speed: SpeedFactor;
  /** calibration.recordsPerSecond × speed.factor. */
  readonly recordsPerSecond: number;
}

export function calibratedRate(calibration: Calibration, speed: SpeedFactor): CalibratedRate {
  return { calibration, speed, recordsPerSecond: calibration.recordsPerSecond * speed.factor };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
