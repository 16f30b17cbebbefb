import { z } from 'zod';
import { lambdaHandler, logger } from '../src/adapters/lambda.ts';
import { type TriggerDependencies, triggerDependencies } from '../src/adapters/triggers.ts';
import { datasetSchema, startNightly } from '../src/core/triggers/nightly.ts';

// An EventBridge scheduled event; its time is the night being scored.
const scheduledEvent = z.object({ time: z.iso.datetime() });
const datasets = z.array(datasetSchema);

/**
 * The handler over the given dependencies and configured datasets: AWS's and NIGHTLY_DATASETS when
 * deployed, the local stack's and its config file in local mode.
 */
export const createNightlyHandler = (
  dependencies: () => TriggerDependencies,
  configuredDatasets: () => Promise<unknown>,
) =>
  lambdaHandler(scheduledEvent, async (event) => {
    const { store, executions } = dependencies();
    const configured = datasets.parse(await configuredDatasets());
    const result = await startNightly(configured, store, executions, new Date(event.time));
    for (const skip of result.skipped) logger.info('nightly dataset skipped', skip);
    return result;
  });

export const handler = createNightlyHandler(
  () => triggerDependencies(),
  async () => JSON.parse(process.env.NIGHTLY_DATASETS ?? '[]') as unknown,
);
