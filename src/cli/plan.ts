import { join, resolve } from 'node:path';
import { fileInput } from '../adapters/file-source.ts';
import { LocalObjectStore } from '../adapters/local-store.ts';
import {
  type Assumptions,
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
import { checkInput, inputBytes, resolveJob } from '../core/spec/compile.ts';
import type { JobSpec } from '../core/spec/job.ts';
import { DEFAULT_JOB_KEY, type JobSource, mergeJobSources, readJobSource } from '../core/spec/sources.ts';
import { commandInputs, type NamedFile } from './inputs.ts';
import { commandLineJob, type JobOptions } from './job.ts';
import type { Output } from './usage.ts';

export interface PlanCommand extends JobOptions {
  readonly files: readonly string[];
  /** A data dir whose config/default-job.json applies, as it does to `pipeline run` there. */
  readonly dataDir?: string;
  readonly recordsPerSecond?: number;
  readonly json: boolean;
}

/**
 * `pipeline plan`: what the job would do in the cloud (a transform job or a serverless endpoint, its
 * shards, instances and requests) and about what it would cost, from reading the files (and the files
 * below the folders) as the Shard step would. Images get the configuration AWS measured proposed, and
 * their time estimated from that measurement. Nothing is written and nothing runs.
 */
export async function planCommand(command: PlanCommand, output: Output): Promise<number> {
  const files = (await commandInputs(command.files)).flatMap((input) => input.files);
  const given = await givenJob(command);
  const proposal = await proposalFor(given, files);
  const job = resolveJob(proposal?.fields, given);
  const { spec } = job;
  const counts: InputCount[] = [];
  for (const file of files) {
    checkInput(spec, file.name, file.name);
    counts.push(
      spec.splitType === 'None'
        ? countWholeObject(job, file.name, file.size)
        : await countInput(
            inputBytes(job, file.name, file.name, await fileInput(file.path)),
            job,
            file.name,
            file.name,
          ),
    );
  }
  const assumptions: Assumptions =
    command.recordsPerSecond !== undefined
      ? { ...DEFAULT_ASSUMPTIONS, recordsPerSecond: command.recordsPerSecond }
      : proposal
        ? measuredAssumptions(proposal.rate)
        : DEFAULT_ASSUMPTIONS;
  const estimate = estimateJob(spec, counts, assumptions);
  if (command.json) {
    output.stdout(`${JSON.stringify({ ...estimate, ...(proposal && { proposal }), files: counts })}\n`);
    return 0;
  }
  output.stdout(describe(estimate, spec, proposal));
  return 0;
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

function describe(estimate: JobEstimate, spec: JobSpec, proposal: ImageProposal | undefined): string {
  const { batchStrategy, maxPayloadInMB, model } = spec;
  const { records, assumptions, prices } = estimate;
  const lines = [`Plan for ${count(estimate.inputs, 'input')} (nothing was run):`];
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
    const { measured } = assumptions;
    if (measured) {
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
      );
    }
  }
  if (estimate.endpoint) {
    const { memorySizeInMB, maxConcurrency, computeSeconds } = estimate.endpoint;
    lines.push(
      `  scoring:    a serverless endpoint, ${memorySizeInMB} MB, MaxConcurrency ${maxConcurrency} (${estimate.reason})`,
    );
    lines.push(
      `  time:       about ${round(computeSeconds)} compute-seconds, at ${assumptions.recordsPerSecond} records a second`,
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
