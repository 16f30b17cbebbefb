import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { fileInput } from '../adapters/file-source.ts';
import { LocalObjectStore } from '../adapters/local-store.ts';
import {
  type Assumptions,
  countInput,
  DEFAULT_ASSUMPTIONS,
  estimateJob,
  type InputCount,
  type JobEstimate,
} from '../core/estimate.ts';
import { resolveJob } from '../core/spec/compile.ts';
import { UsageError } from './errors.ts';
import { commandLineJob, type JobOptions, localJob } from './job.ts';
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
 * shards, instances and requests) and about what it would cost, from reading the files as the Shard step
 * would. Nothing is written and nothing runs.
 */
export async function planCommand(command: PlanCommand, output: Output): Promise<number> {
  for (const file of command.files) {
    if (!(await stat(file).catch(() => undefined))?.isFile())
      throw new UsageError(`input ${file} is not a file`);
  }
  const source = await commandLineJob(command);
  const dataDir = command.dataDir && resolve(command.dataDir);
  const job = dataDir ? await localJob(new LocalObjectStore(dataDir), dataDir, source) : resolveJob(source);
  const { spec } = job;
  const counts: InputCount[] = [];
  for (const file of command.files) {
    counts.push(await countInput(await fileInput(file), job, file, basename(file)));
  }
  const assumptions: Assumptions = {
    ...DEFAULT_ASSUMPTIONS,
    ...(command.recordsPerSecond !== undefined && { recordsPerSecond: command.recordsPerSecond }),
  };
  const estimate = estimateJob(spec, counts, assumptions);
  if (command.json) {
    output.stdout(`${JSON.stringify({ ...estimate, files: counts })}\n`);
    return 0;
  }
  output.stdout(describe(estimate, spec.batchStrategy, spec.maxPayloadInMB, spec.model));
  return 0;
}

function describe(
  estimate: JobEstimate,
  batchStrategy: string,
  maxPayloadInMB: number,
  model: string,
): string {
  const { records, assumptions, prices } = estimate;
  const lines = [`Plan for ${count(estimate.inputs, 'input')} (nothing was run):`];
  const dropped = [
    ...(records.errors > 0 ? [`${count(records.errors, 'record')} would be quarantined`] : []),
    ...(records.skipped > 0 ? [`${count(records.skipped, 'empty line')} skipped`] : []),
  ];
  lines.push(
    `  records:    ${records.sent} to score${dropped.length > 0 ? ` (${dropped.join(', ')})` : ''}, in ${count(estimate.shards, 'shard')}`,
  );
  if (estimate.packaging) {
    lines.push(
      `  packaging:  ${model.slice('tfhub:'.length)} on ${estimate.packaging.instanceType} (spot), about ` +
        `${estimate.packaging.instanceMinutes} instance-minutes, unless an earlier job packaged it; ${money(estimate.packaging.cost, prices.currency)} at most`,
    );
  }
  const payload = estimate.endpoint ? '4 MB' : maxPayloadInMB === 0 ? 'one record' : `${maxPayloadInMB} MB`;
  if (estimate.transform) {
    const { instanceType, instanceCount, instanceMinutes } = estimate.transform;
    lines.push(`  scoring:    a transform job on ${instanceCount} × ${instanceType} (${estimate.reason})`);
    lines.push(
      `  time:       about ${round(instanceMinutes)} instance-minutes: ${assumptions.transformStartupMinutes} starting up ` +
        `per instance, and the records at ${assumptions.recordsPerSecond} a second`,
    );
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
      : `  cost:       about ${money(estimate.cost, prices.currency)} at ${prices.region} on-demand prices as of ${prices.asOf}`,
  );
  return `${lines.join('\n')}\n`;
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
