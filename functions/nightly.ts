import { z } from 'zod';
import { stepDependencies } from '../src/adapters/aws.ts';
import { lambdaHandler, logger } from '../src/adapters/lambda.ts';
import { StepFunctionsExecutions } from '../src/adapters/sfn-executions.ts';
import { datasetSchema, startNightly } from '../src/core/triggers/nightly.ts';

// An EventBridge scheduled event; its time is the night being scored.
const scheduledEvent = z.object({ time: z.iso.datetime() });
const datasets = z.array(datasetSchema);

let executions: StepFunctionsExecutions | undefined;

export const handler = lambdaHandler(scheduledEvent, async (event) => {
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new Error('environment variable STATE_MACHINE_ARN is not set');
  executions ??= new StepFunctionsExecutions(stateMachineArn);
  const configured = datasets.parse(JSON.parse(process.env.NIGHTLY_DATASETS ?? '[]'));
  const result = await startNightly(configured, stepDependencies().store, executions, new Date(event.time));
  for (const skip of result.skipped) logger.info('nightly dataset skipped', skip);
  return result;
});
