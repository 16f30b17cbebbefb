import type {
  RunningExecutions,
  SageMakerResource,
  SageMakerResources,
} from './ports/sagemaker-resources.ts';
import { sageMakerName } from './steps/names.ts';

export interface SweepOptions {
  /** The prefix every SageMaker name of this service starts with; none locally, as Plan names them. */
  readonly namePrefix?: string;
  /** Only resources older than this are orphans: a job may be creating them right now. */
  readonly olderThanHours: number;
  /** Report what would be deleted, delete nothing. */
  readonly dryRun: boolean;
  readonly now: Date;
}

export interface SweepResult {
  readonly deleted: SageMakerResource[];
  readonly wouldDelete: SageMakerResource[];
  readonly kept: { resource: SageMakerResource; reason: string }[];
}

/**
 * Finds what the service created in SageMaker and no running execution owns any more (an execution
 * stopped by hand runs no cleanup), older than the grace period, and deletes it (or only lists it, in
 * a dry run), in deletion order.
 */
export async function sweepOrphans(
  resources: SageMakerResources,
  executions: RunningExecutions,
  options: SweepOptions,
): Promise<SweepResult> {
  const prefix = options.namePrefix ? `${options.namePrefix}-` : '';
  const owned = new Set((await executions.running()).map((name) => sageMakerName(`${prefix}${name}`)));
  const found = await resources.list(prefix);
  const result: SweepResult = { deleted: [], wouldDelete: [], kept: [] };
  for (const resource of inDeletionOrder(found)) {
    const ageHours = (options.now.getTime() - resource.createdAt.getTime()) / 3_600_000;
    if (owned.has(resource.name)) {
      result.kept.push({ resource, reason: 'its execution is still running' });
    } else if (ageHours < options.olderThanHours) {
      result.kept.push({ resource, reason: `younger than ${options.olderThanHours} hours` });
    } else if (options.dryRun) {
      result.wouldDelete.push(resource);
    } else {
      await resources.delete(resource);
      result.deleted.push(resource);
    }
  }
  return result;
}

/** Endpoints before their configs, configs before the models they name. */
export function inDeletionOrder(resources: readonly SageMakerResource[]): SageMakerResource[] {
  const order = { endpoint: 0, 'endpoint-config': 1, model: 2 } as const;
  return [...resources].sort((a, b) => order[a.kind] - order[b.kind]);
}
