import { z } from 'zod';
import { lambdaHandler, logger } from '../src/adapters/lambda.ts';
import { triggerDependencies } from '../src/adapters/triggers.ts';
import { datasetSchema, startNightly } from '../src/core/triggers/nightly.ts';

// An EventBridge scheduled event; its time is the night being scored.
const scheduledEvent = z.object({ time: z.iso.datetime() });
const datasets = z.array(datasetSchema);

export const handler = lambdaHandler(scheduledEvent, async (event) => {
  const { store, executions } = triggerDependencies();
  const configured = datasets.parse(JSON.parse(process.env.NIGHTLY_DATASETS ?? '[]'));
  const result = await startNightly(configured, store, executions, new Date(event.time));
  for (const skip of result.skipped) logger.info('nightly dataset skipped', skip);
  return result;
});
