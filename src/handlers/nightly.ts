import type { Executions } from '../core/ports/executions.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { type Dataset, startNightly } from '../core/triggers/nightly.ts';
import { lambdaHandler, logger } from './lambda.ts';
import { scheduledEvent } from './scheduled.ts';

export interface NightlyDependencies {
  readonly store: ObjectStore;
  readonly executions: Executions;
  /** The datasets to score, as configured now (the deployment's, or a local config file). */
  readonly datasets: () => Promise<readonly Dataset[]>;
}

export const createNightlyHandler = (dependencies: () => NightlyDependencies) =>
  lambdaHandler(scheduledEvent, async (event) => {
    const { store, executions, datasets } = dependencies();
    const result = await startNightly(await datasets(), store, executions, new Date(event.time));
    for (const skip of result.skipped) logger.info('nightly dataset skipped', skip);
    return result;
  });
