import { z } from 'zod';
import { lambdaHandler, logger } from '../src/adapters/lambda.ts';
import {
  AwsSageMakerResources,
  StepFunctionsRunningExecutions,
} from '../src/adapters/sagemaker-resources.ts';
import { sweepOrphans } from '../src/core/sweep.ts';

// An EventBridge scheduled event.
const scheduledEvent = z.object({ time: z.iso.datetime() });

export const handler = lambdaHandler(scheduledEvent, async (event) => {
  const { NAME_PREFIX: namePrefix, STATE_MACHINE_ARN: stateMachineArn } = process.env;
  if (!namePrefix || !stateMachineArn)
    throw new Error('environment variables NAME_PREFIX and STATE_MACHINE_ARN must be set');
  const result = await sweepOrphans(
    new AwsSageMakerResources(),
    new StepFunctionsRunningExecutions(stateMachineArn),
    {
      namePrefix,
      olderThanHours: Number(process.env.SWEEP_AFTER_HOURS ?? 6),
      dryRun: false,
      now: new Date(event.time),
    },
  );
  logger.info('sweep', {
    deleted: result.deleted.map((r) => `${r.kind} ${r.name}`),
    kept: result.kept.length,
  });
  return result;
});
