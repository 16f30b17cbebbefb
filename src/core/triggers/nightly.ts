import * as z from 'zod/mini';
import { ConfigurationError, JobSpecError } from '../errors.ts';
import { IN_ENGLISH } from '../messages.ts';
import type { Executions } from '../ports/executions.ts';
import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import { checkJobSource } from '../spec/compile.ts';
import { isInputObject } from '../steps/layout.ts';

/**
 * A dataset scored every night: every object under its prefix (Parquet part files as Spark writes
 * them too: its markers and hidden files are not inputs), with its job spec.
 */
export const datasetSchema = z.strictObject({
  name: z.string().check(z.regex(/^[A-Za-z0-9-]{1,40}$/, 'letters, digits and - only, at most 40')),
  prefix: z.string().check(z.regex(/^datasets\/.+\/$/, 'a folder under datasets/, ending with /')),
  job: z.optional(z.record(z.string(), z.unknown())),
});
export type Dataset = z.infer<typeof datasetSchema>;

/** The datasets of a setting holding their JSON (the deployment's NIGHTLY_DATASETS). */
export function parseDatasets(text: string, origin: string): Dataset[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`${origin}: is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return readDatasets(value, origin);
}

/**
 * The configured datasets (the deployment's NIGHTLY_DATASETS, a local config file's), each checked,
 * its job spec's fields too: a bad one is named, with `origin`, before any night is scored.
 */
export function readDatasets(value: unknown, origin: string): Dataset[] {
  const parsed = z.array(datasetSchema).safeParse(value, IN_ENGLISH);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    throw new ConfigurationError(
      `${origin}: ${issue?.path.join('.') || '(datasets)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  for (const [k, dataset] of parsed.data.entries()) {
    try {
      if (dataset.job) checkJobSource(dataset.job);
    } catch (error) {
      if (!(error instanceof JobSpecError)) throw error;
      throw new ConfigurationError(`${origin}: ${k}.job.${error.message}`, { cause: error });
    }
  }
  return parsed.data;
}

export interface NightlyResult {
  readonly started: { dataset: string; executionArn: string; inputs: number }[];
  readonly skipped: { dataset: string; reason: string }[];
}

interface Marker {
  /** The newest object the last run scored. */
  readonly newest: string;
  readonly day: string;
}

/**
 * One execution per dataset per day (its name holds the dataset and the UTC date, so a schedule that
 * fires twice starts it once), over the dataset's folder, and only when some input object under it is
 * newer than what the previous night scored. The execution names the folder, not its objects: a
 * dataset of any size fits Step Functions' 256 KB input, and Plan lists the folder as it is then.
 */
export async function startNightly(
  datasets: readonly Dataset[],
  store: ObjectStore,
  executions: Executions,
  now: Date,
): Promise<NightlyResult> {
  const result: NightlyResult = { started: [], skipped: [] };
  const day = now.toISOString().slice(0, 10);
  for (const dataset of datasets) {
    let inputs = 0;
    let newest = '';
    for await (const object of store.list(dataset.prefix)) {
      if (!isInputObject(object.key.slice(dataset.prefix.length), object.size)) continue;
      inputs++;
      const modified = object.lastModified.toISOString();
      if (modified > newest) newest = modified;
    }
    if (inputs === 0) {
      result.skipped.push({ dataset: dataset.name, reason: `no objects under ${dataset.prefix}` });
      continue;
    }
    const markerKey = `state/nightly/${dataset.name}.json`;
    const marker = (await store.head(markerKey))
      ? (JSON.parse(await readText(store, markerKey)) as Marker)
      : undefined;
    if (marker && marker.newest >= newest) {
      result.skipped.push({ dataset: dataset.name, reason: `no new objects since the run of ${marker.day}` });
      continue;
    }
    const { executionArn } = await executions.start(`nightly-${dataset.name}-${day}`, {
      inputs: [dataset.prefix],
      ...(dataset.job && { job: dataset.job }),
    });
    await writeText(store, markerKey, JSON.stringify({ newest, day } satisfies Marker));
    result.started.push({ dataset: dataset.name, executionArn, inputs });
  }
  return result;
}
