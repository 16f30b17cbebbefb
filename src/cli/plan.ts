import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileInput } from '../adapters/file-source.ts';
import { LocalObjectStore } from '../adapters/local-store.ts';
import {
  CALIBRATION_LIMITS,
  type CalibratedRate,
  calibratedRate,
  RequestSample,
  speedFactor,
} from '../core/calibration.ts';
import { CalibrationError } from '../core/errors.ts';
import {
  type Assumptions,
  calibratedAssumptions,
  countInput,
  countWholeObject,
  DEFAULT_ASSUMPTIONS,
  estimateJob,
  type InputCount,
  type JobEstimate,
  measuredAssumptions,
} from '../core/estimate.ts';
import {
  holdsImageExamples,
  type ImageProposal,
  imageInputsKind,
  imageProposal,
} from '../core/image-jobs.ts';
import { type CompiledJob, checkInput, inputBytes, resolveJob } from '../core/spec/compile.ts';
import type { JobSpec } from '../core/spec/job.ts';
import { DEFAULT_JOB_KEY, type JobSource, mergeJobSources, readJobSource } from '../core/spec/sources.ts';
import { scoresOnEndpoint } from '../core/steps/route.ts';
import { commandInputs, type NamedFile } from './inputs.ts';
import { commandLineJob, type JobOptions } from './job.ts';
import type { Output } from './usage.ts';

export interface PlanCommand extends JobOptions {
  readonly files: readonly string[];
  /** A data dir whose config/default-job.json applies, as it does to `pipeline run` there. */
  readonly dataDir?: string;
  readonly recordsPerSecond?: number;
  /** Measure the model's rate on this machine, on a sample of the inputs' records, and scale it. */
  readonly calibrate?: boolean;
  readonly json: boolean;
}

/**
 * `pipeline plan`: what the job would do in the cloud (a transform job or a serverless endpoint, its
 * shards, instances and requests) and about what it would cost, from reading the files (and the files
 * below the folders) as the Shard step would. Images get the configuration AWS measured proposed, and
 * their time estimated from that measurement. Nothing is written, and nothing runs unless asked to
 * calibrate: then the model is measured on this machine, scoring a sample of the inputs' records.
 */
export async function planCommand(command: PlanCommand, output: Output): Promise<number> {
  const files = (await commandInputs(command.files)).flatMap((input) => input.files);
  const given = await givenJob(command);
  const proposal = await proposalFor(given, files);
  const job = resolveJob(proposal?.fields, given);
  const { spec } = job;
  const sample = command.calibrate ? new RequestSample() : undefined;
  const counts: InputCount[] = [];
  for (const file of files) {
    checkInput(spec, file.name, file.name);
    if (spec.splitType === 'None') {
      const counted = countWholeObject(job, file.name, file.size);
      if (sample?.wants && counted.records.sent === 1)
        sample.offer([{ first: 1, last: 1, body: await readFile(file.path) }]);
      counts.push(counted);
    } else {
      counts.push(
        await countInput(
          inputBytes(job, file.name, file.name, await fileInput(file.path)),
          job,
          file.name,
          file.name,
          sample,
        ),
      );
    }
  }
  const assumptions: Assumptions =
    command.recordsPerSecond !== undefined
      ? { ...DEFAULT_ASSUMPTIONS, recordsPerSecond: command.recordsPerSecond }
      : sample
        ? await calibrated(job, sample, counts, command)
        : proposal
          ? measuredAssumptions(proposal.rate)
          : DEFAULT_ASSUMPTIONS;
  const estimate = estimateJob(spec, counts, assumptions);
  if (command.json) {
    output.stdout(`${JSON.stringify({ ...estimate, ...(proposal && { proposal }), files: counts })}\n`);
    return 0;
  }
  output.stdout(describe(estimate, spec, proposal, command.recordsPerSecond !== undefined));
  return 0;
}

/**
 * The rate measured by scoring the sample with the job's model on this machine, as the transform job
 * would send it, scaled to where the job would score. (A job for a serverless endpoint packs its
 * requests under the endpoint's 4 MB; the transform job's requests stand in for them.)
 */
async function calibrated(
  job: CompiledJob,
  sample: RequestSample,
  counts: readonly InputCount[],
  command: PlanCommand,
): Promise<Assumptions> {
  const { spec } = job;
  if (sample.requests.length === 0) {
    throw new CalibrationError(
      `nothing to calibrate on: the inputs hold no record the model would score, so model ${spec.model} was not run`,
    );
  }
  const { calibrateModel } = await import('../local/calibrate.ts');
  const calibration = await calibrateModel(
    {
      model: spec.model,
      environment: {
        ...(spec.modelName !== undefined && { SAGEMAKER_TFS_DEFAULT_MODEL_NAME: spec.modelName }),
        ...spec.environment,
      },
      dataDir: resolve(command.dataDir ?? '.'),
      contentType: spec.splitType === 'None' ? spec.contentType : job.shards.contentType,
      // As the state machine's Transform state asks for it.
      accept: 'application/jsonlines',
      concurrency: spec.maxConcurrentTransforms,
      timeoutSeconds: spec.modelClientConfig.invocationsTimeoutInSeconds,
      limits: CALIBRATION_LIMITS,
    },
    sample.requests,
  );
  const sent = counts.reduce((sum, counted) => sum + counted.records.sent, 0);
  const speed = speedFactor(spec.instanceType, calibration.cores, scoresOnEndpoint(spec, sent));
  return calibratedAssumptions(calibratedRate(calibration, speed));
}

/**
 * The job spec as the user gives it: the data dir's config/default-job.json (named by its path when
 * it is malformed) under the command line's.
 */
async function givenJob(command: PlanCommand): Promise<JobSource> {
  const source = await commandLineJob(command);
  if (command.dataDir === undefined) return source;
  const dataDir = resolve(command.dataDir);
  const defaults = await readJobSource(
    new LocalObjectStore(dataDir),
    DEFAULT_JOB_KEY,
    join(dataDir, DEFAULT_JOB_KEY),
  );
  return mergeJobSources(defaults, source);
}

/** The configuration measured for images, when the inputs are images (or TFRecord files of them). */
async function proposalFor(
  given: JobSource,
  files: readonly NamedFile[],
): Promise<ImageProposal | undefined> {
  const kind = imageInputsKind(
    given,
    files.map((file) => file.name),
  );
  const [first] = files;
  if (kind === 'images') return imageProposal('images', given);
  if (kind === 'tfrecord' && first && (await holdsImageExamples(await fileInput(first.path), first.name)))
    return imageProposal('tfrecord-images', given);
  return undefined;
}

function describe(
  estimate: JobEstimate,
  spec: JobSpec,
  proposal: ImageProposal | undefined,
  given: boolean,
): string {
  const { batchStrategy, maxPayloadInMB, model } = spec;
  const { records, assumptions, prices } = estimate;
  const run = assumptions.calibrated
    ? 'nothing was written; the model ran here to calibrate'
    : 'nothing was run';
  const lines = [`Plan for ${count(estimate.inputs, 'input')} (${run}):`];
  if (proposal) lines.push(...describeProposal(proposal));
  const dropped = [
    ...(records.errors > 0 ? [`${count(records.errors, 'record')} would be quarantined`] : []),
    ...(records.skipped > 0 ? [`${count(records.skipped, 'empty line')} skipped`] : []),
  ];
  const cut =
    spec.splitType === 'None'
      ? 'each object one record, read where it is stored'
      : `in ${count(estimate.shards, 'shard')}`;
  lines.push(
    `  records:    ${records.sent} to score${dropped.length > 0 ? ` (${dropped.join(', ')})` : ''}, ${cut}`,
  );
  if (estimate.packaging) {
    lines.push(
      `  packaging:  ${model.slice('tfhub:'.length)} on ${estimate.packaging.instanceType} (spot), about ` +
        `${estimate.packaging.instanceMinutes} instance-minutes, unless an earlier job packaged it; ${money(estimate.packaging.cost, prices.currency)} at most`,
    );
  }
  const payload = estimate.endpoint ? '4 MB' : maxPayloadInMB === 0 ? 'one record' : `${maxPayloadInMB} MB`;
  if (estimate.transform) {
    const { instanceType, instanceCount, instanceMinutes, minutes } = estimate.transform;
    lines.push(`  scoring:    a transform job on ${instanceCount} × ${instanceType} (${estimate.reason})`);
    const { measured, calibrated } = assumptions;
    if (calibrated) {
      lines.push(
        `  time:       about ${round(minutes)} minutes (${round(instanceMinutes)} instance-minutes): ` +
          `${assumptions.transformStartupMinutes} starting up per instance, and the records at ` +
          `${round(assumptions.recordsPerSecond)} a second per instance`,
        ...describeCalibration(calibrated),
      );
    } else if (measured) {
      lines.push(
        `  time:       about ${round(minutes)} minutes (${round(instanceMinutes)} instance-minutes), at ` +
          `${round(measured.recordsPerSecond)} records a second per instance, start-up included`,
        `  rate from:  a published measurement on ${measured.instanceType}: ${measured.measurement}`,
        `              (${measured.source}); your model's rate may differ` +
          `${instanceType === measured.instanceType ? '' : `, and so will ${instanceType}'s`}: --records-per-second N`,
      );
    } else {
      lines.push(
        `  time:       about ${round(instanceMinutes)} instance-minutes: ${assumptions.transformStartupMinutes} starting up ` +
          `per instance, and the records at ${assumptions.recordsPerSecond} a second`,
        rateGiven(given),
      );
    }
  }
  if (estimate.endpoint) {
    const { memorySizeInMB, maxConcurrency, computeSeconds } = estimate.endpoint;
    lines.push(
      `  scoring:    a serverless endpoint, ${memorySizeInMB} MB, MaxConcurrency ${maxConcurrency} (${estimate.reason})`,
    );
    lines.push(
      `  time:       about ${round(computeSeconds)} compute-seconds, at ${round(assumptions.recordsPerSecond)} records a second`,
      ...(assumptions.calibrated
        ? describeCalibration(assumptions.calibrated)
        : assumptions.measured
          ? [
              `  rate from:  a published measurement on ${assumptions.measured.instanceType}: ${assumptions.measured.measurement}`,
            ]
          : [rateGiven(given)]),
    );
  }
  lines.push(`  requests:   ${estimate.requests} (${batchStrategy}, up to ${payload} each)`);
  lines.push(
    estimate.cost === undefined
      ? '  cost:       unknown: the price table (src/core/prices.ts) has no price for an instance type used'
      : `  cost:       ${estimate.cost !== undefined && estimate.cost < 0.01 ? '' : 'about '}${money(estimate.cost, prices.currency)} at ${prices.region} on-demand prices as of ${prices.asOf}`,
  );
  return `${lines.join('\n')}\n`;
}

/** Where an assumed rate comes from: the command line, or nowhere. */
function rateGiven(given: boolean): string {
  return given
    ? '  rate from:  --records-per-second, as given'
    : `  rate from:  an assumption, not a measurement: ${DEFAULT_ASSUMPTIONS.recordsPerSecond} records a second for any model; ` +
        'measure yours with --calibrate, or give --records-per-second N';
}

/** Where a calibrated rate comes from: what was measured here, and the factor that scaled it. */
function describeCalibration({ calibration, speed, recordsPerSecond }: CalibratedRate): string[] {
  const { records, seconds, limits, concurrency, failedRequests, requests } = calibration;
  const failed =
    failedRequests === 0
      ? []
      : [
          `              ${failedRequests} of ${requests} timed requests failed, their records not counted: ${calibration.failure}`,
        ];
  return [
    `  rate from:  a local calibration on this machine: ${records} records in ${seconds.toFixed(2)} s = ` +
      `${round(calibration.recordsPerSecond)} records/s, × ${factor(speed.factor)} for ${speed.target} = ` +
      `${round(recordsPerSecond)} records/s`,
    `              (× ${factor(speed.factor)}: ${speed.basis})`,
    `              measured on the job's own requests, ${concurrency} at a time, for at most ${limits.seconds} s or ` +
      `${limits.records.toLocaleString('en-US')} records, after a warm-up request; the model server's start-up excluded`,
    ...failed,
  ];
}

function factor(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function describeProposal(proposal: ImageProposal): string[] {
  const what = proposal.kind === 'images' ? 'images, each scored whole' : 'TFRecord files of images';
  const fields = Object.entries(proposal.fields).map(([field, value]) =>
    field === 'environment'
      ? Object.entries(value as Record<string, string>)
          .map(([name, setting]) => `${name}=${setting}`)
          .join(', ')
      : `${field} ${String(value)}`,
  );
  return fields.length === 0
    ? [`  inputs:     ${what}; your job spec already sets what AWS measured for them`]
    : [
        `  inputs:     ${what}; proposed, as AWS measured them (your job spec's fields win):`,
        `              ${fields.join(', ')}`,
      ];
}

function money(amount: number | undefined, currency: string): string {
  if (amount === undefined) return 'an unknown cost';
  const symbol = currency === 'USD' ? '$' : `${currency} `;
  return amount < 0.01 ? `less than ${symbol}0.01` : `${symbol}${amount.toFixed(2)}`;
}

function round(value: number): string {
  return value < 10 ? value.toFixed(1) : String(Math.round(value));
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
