import { type ObjectStore, readText, writeText } from '../ports/object-store.ts';
import type { JobSpec } from '../spec/job.ts';
import { resultsPrefix } from './layout.ts';

/** `results/<jobId>/_job.json`: the inputs and the resolved spec of a job, written when it is planned. */
export interface JobRecord {
  readonly jobId: string;
  readonly inputs: string[];
  readonly job: JobSpec;
  readonly startedAt: string;
  readonly rerunOf?: string;
}

export function jobRecordKey(jobId: string): string {
  return `${resultsPrefix(jobId)}_job.json`;
}

/** The record of a past job: what a rerun repeats; undefined when there is no such job. */
export async function readJobRecord(store: ObjectStore, jobId: string): Promise<JobRecord | undefined> {
  if (!(await store.head(jobRecordKey(jobId)))) return undefined;
  return JSON.parse(await readText(store, jobRecordKey(jobId))) as JobRecord;
}

export async function writeJobRecord(store: ObjectStore, record: JobRecord): Promise<void> {
  await writeText(store, jobRecordKey(record.jobId), `${JSON.stringify(record, null, 2)}\n`);
}
