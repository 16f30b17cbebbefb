import { JobSpecError } from '../errors.ts';
import { type ObjectStore, readText } from '../ports/object-store.ts';

/**
 * Where a job spec comes from, later wins: the deployment's defaults, the bucket's
 * `config/default-job.json`, a sidecar `<input>.job.json`, the webhook body's `job`, the CLI's `--job`.
 * Each is a JSON object holding any of the spec's fields; they are merged, then compiled once.
 */
export type JobSource = Readonly<Record<string, unknown>>;

/** The bucket's defaults for every job, under every other source. */
export const DEFAULT_JOB_KEY = 'config/default-job.json';

/** A sidecar: the job spec of one input, uploaded beside it. */
export function sidecarKey(input: string): string {
  return `${input}.job.json`;
}

/** A source's text as a job spec source; `origin` (a file, a key, a variable) names it when it is not one. */
export function parseJobSource(text: string, origin: string): JobSource {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new JobSpecError(origin, `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return asJobSource(parsed, origin);
}

/** A value already parsed (a webhook body's `job`, a dataset's) as a job spec source. */
export function asJobSource(value: unknown, origin: string): JobSource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JobSpecError(origin, 'a job spec must be a JSON object');
  }
  return value as JobSource;
}

/** The source stored under `key`, or undefined when there is none; `origin` names it in errors. */
export async function readJobSource(
  store: ObjectStore,
  key: string,
  origin = key,
): Promise<JobSource | undefined> {
  if (!(await store.head(key))) return undefined;
  return parseJobSource(await readText(store, key), origin);
}

/** The sources merged over each other in order, nested objects member by member. */
export function mergeJobSources(...sources: readonly (JobSource | undefined)[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const source of sources) {
    if (source === undefined) continue;
    for (const [key, value] of Object.entries(source)) {
      const current = merged[key];
      merged[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
