import type { TemporaryFile } from '../adapters/local-store.ts';
import { isAlive } from '../adapters/processes.ts';
import type { SageMakerResource, SageMakerResources } from '../core/ports/sagemaker-resources.ts';
import { type SweepResult, sweepOrphans } from '../core/sweep.ts';
import type { LocalSageMaker } from './sagemaker/index.ts';
import { ResourceRegistry } from './sagemaker/registry.ts';
import type { LocalStack } from './stack.ts';

/** The local SageMaker's resources as the sweeper sees them: recorded in the data dir, by any process. */
export class LocalSageMakerResources implements SageMakerResources {
  readonly #registry: ResourceRegistry;
  readonly #sageMaker: LocalSageMaker;

  constructor(registry: ResourceRegistry, sageMaker: LocalSageMaker) {
    this.#registry = registry;
    this.#sageMaker = sageMaker;
  }

  async list(prefix: string): Promise<SageMakerResource[]> {
    return (await this.#registry.list()).filter((resource) => resource.name.startsWith(prefix));
  }

  /** Through the local SageMaker, which also lets go of what this process holds for the resource. */
  async delete(resource: SageMakerResource): Promise<void> {
    switch (resource.kind) {
      case 'model':
        await this.#sageMaker.deleteModel({ ModelName: resource.name });
        return;
      case 'endpoint':
        await this.#sageMaker.deleteEndpoint({ EndpointName: resource.name });
        return;
      case 'endpoint-config':
        await this.#sageMaker.deleteEndpointConfig({ EndpointConfigName: resource.name });
        return;
    }
  }
}

/** A job's `work/<jobId>/`, as one thing to sweep. */
export interface WorkFolder {
  readonly jobId: string;
  readonly objects: number;
  /** When its newest object was written. */
  readonly lastModified: Date;
}

export interface Swept<T> {
  readonly deleted: T[];
  readonly wouldDelete: T[];
  readonly kept: { item: T; reason: string }[];
}

export interface LocalSweepResult {
  /** Models (and endpoints) the local SageMaker created, as the cloud's sweeper finds them. */
  readonly sageMaker: SweepResult;
  /** What a lifecycle rule expires in the cloud: the work folders of jobs no longer running. */
  readonly work: Swept<WorkFolder>;
  /** Files a process that died while writing them left behind. */
  readonly temporaries: Swept<TemporaryFile>;
}

export interface LocalSweepOptions {
  /** Only what is older than this goes: a job may be creating it right now. */
  readonly olderThanHours: number;
  /** List what would be deleted, delete nothing. */
  readonly dryRun: boolean;
  readonly now: Date;
}

/**
 * The orphan sweeper over a data dir: what stopped or crashed runs left behind (a stopped execution runs
 * no cleanup, and a killed process none either), and that no running execution owns. Temporary files
 * go first and SageMaker's resources last, so that a sweep cut short leaves the models to find again.
 */
export async function sweepLocal(stack: LocalStack, options: LocalSweepOptions): Promise<LocalSweepResult> {
  const running = new Set(await stack.executions.running());
  const older = (date: Date) => options.now.getTime() - date.getTime() >= options.olderThanHours * 3_600_000;
  const grace = `younger than ${options.olderThanHours} hours`;

  const temporaries: Swept<TemporaryFile> = { deleted: [], wouldDelete: [], kept: [] };
  for (const file of await stack.store.temporaries()) {
    if (file.writer !== undefined && isAlive(file.writer)) {
      temporaries.kept.push({ item: file, reason: `process ${file.writer} is still writing it` });
    } else if (file.writer === undefined && !older(file.lastModified)) {
      temporaries.kept.push({ item: file, reason: grace });
    } else if (options.dryRun) {
      temporaries.wouldDelete.push(file);
    } else {
      await stack.store.deleteTemporary(file.path);
      temporaries.deleted.push(file);
    }
  }

  const work: Swept<WorkFolder> = { deleted: [], wouldDelete: [], kept: [] };
  for (const folder of await workFolders(stack)) {
    if (running.has(folder.jobId)) {
      work.kept.push({ item: folder, reason: 'its execution is still running' });
    } else if (!older(folder.lastModified)) {
      work.kept.push({ item: folder, reason: grace });
    } else if (options.dryRun) {
      work.wouldDelete.push(folder);
    } else {
      await stack.store.deletePrefix(`work/${folder.jobId}/`);
      work.deleted.push(folder);
    }
  }

  const sageMaker = await sweepOrphans(
    new LocalSageMakerResources(new ResourceRegistry(stack.store.root), stack.sageMaker),
    { running: async () => [...running] },
    { olderThanHours: options.olderThanHours, dryRun: options.dryRun, now: options.now },
  );
  return { sageMaker, work, temporaries };
}

async function workFolders(stack: LocalStack): Promise<WorkFolder[]> {
  const folders = new Map<string, { objects: number; lastModified: Date }>();
  for await (const object of stack.store.list('work/')) {
    const [, jobId, ...rest] = object.key.split('/');
    // Only work/<jobId>/...: anything else there is no job's.
    if (jobId === undefined || rest.length === 0) continue;
    const folder = folders.get(jobId) ?? { objects: 0, lastModified: new Date(0) };
    folder.objects++;
    if (object.lastModified > folder.lastModified) folder.lastModified = object.lastModified;
    folders.set(jobId, folder);
  }
  return [...folders].map(([jobId, folder]) => ({ jobId, ...folder }));
}
