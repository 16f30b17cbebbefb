import type { RunningExecutions, SageMakerResources } from '../core/ports/sagemaker-resources.ts';
import { sweepOrphans } from '../core/sweep.ts';
import { lambdaHandler, logger } from './lambda.ts';
import { scheduledEvent } from './scheduled.ts';

export interface SweeperDependencies {
  readonly resources: SageMakerResources;
  readonly executions: RunningExecutions;
  /** The prefix of every SageMaker name the service creates. */
  readonly namePrefix: string;
  /** How old an unowned resource must be before it is deleted. */
  readonly olderThanHours: number;
}

export const createSweeperHandler = (dependencies: () => SweeperDependencies) =>
  lambdaHandler(scheduledEvent, async (event) => {
    const { resources, executions, namePrefix, olderThanHours } = dependencies();
    const result = await sweepOrphans(resources, executions, {
      namePrefix,
      olderThanHours,
      dryRun: false,
      now: new Date(event.time),
    });
    logger.info('sweep', {
      deleted: result.deleted.map((resource) => `${resource.kind} ${resource.name}`),
      kept: result.kept.length,
    });
    return result;
  });
