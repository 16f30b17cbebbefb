import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { type CompiledJob, resolveJob } from '../core/spec/compile.ts';
import { DEFAULT_JOB_KEY, type JobSource, parseJobSource, readJobSource } from '../core/spec/sources.ts';
import { UsageError } from './errors.ts';

/** How a command names its job: a job spec file (`--job`) and a model (`--model`) over it. */
export interface JobOptions {
  readonly model?: string;
  readonly jobFile?: string;
  /** A running server to score with (`--model-url`): the model then needs no other name. */
  readonly modelUrl?: string;
}

/**
 * The command line's job spec source: the `--job` file, then `--model` over its model. A relative
 * model path in a job file is relative to that file; on the command line, to the working folder.
 */
export async function commandLineJob(options: JobOptions): Promise<JobSource> {
  const job: Record<string, unknown> = options.jobFile
    ? { ...parseJobSource(await readJobFile(options.jobFile), options.jobFile) }
    : {};
  if (options.jobFile && typeof job.model === 'string') {
    job.model = localPath(job.model, dirname(resolve(options.jobFile)));
  }
  if (options.model !== undefined) job.model = localPath(options.model, process.cwd());
  if (job.model === undefined && options.modelUrl !== undefined) job.model = options.modelUrl;
  if (job.model === undefined)
    throw new UsageError(
      'no model: give --model <folder or model.tar.gz>, --model-url, or a job file with "model" (--job job.json)',
    );
  return job;
}

/**
 * The job a command would run over a data dir: its `config/default-job.json` (named by its path when it
 * is malformed), under the command line's. Throws JobSpecError before anything runs.
 */
export async function localJob(store: ObjectStore, dataDir: string, job: JobSource): Promise<CompiledJob> {
  return resolveJob(await readJobSource(store, DEFAULT_JOB_KEY, join(dataDir, DEFAULT_JOB_KEY)), job);
}

async function readJobFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--job ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function localPath(model: string, base: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(model) || isAbsolute(model)) return model;
  return resolve(base, model);
}
