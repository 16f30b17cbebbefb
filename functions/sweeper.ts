import { requiredVariable } from '../src/adapters/environment.ts';
import {
  AwsSageMakerResources,
  StepFunctionsRunningExecutions,
} from '../src/adapters/sagemaker-resources.ts';
import { perColdStart } from '../src/handlers/lambda.ts';
import { createSweeperHandler } from '../src/handlers/sweeper.ts';

export const handler = createSweeperHandler(
  perColdStart(() => ({
    resources: new AwsSageMakerResources(),
    executions: new StepFunctionsRunningExecutions(requiredVariable(process.env, 'STATE_MACHINE_ARN')),
    namePrefix: requiredVariable(process.env, 'NAME_PREFIX'),
    olderThanHours: Number(process.env.SWEEP_AFTER_HOURS ?? 6),
  })),
);
