import type { Executions } from '../core/ports/executions.ts';
import type { ObjectStore } from '../core/ports/object-store.ts';
import { stepDependencies } from './aws.ts';
import { LocalExecutions } from './local-executions.ts';
import { LocalObjectStore } from './local-store.ts';
import { StepFunctionsExecutions } from './sfn-executions.ts';

export interface TriggerDependencies {
  readonly store: ObjectStore;
  readonly executions: Executions;
  /** The bucket the webhook accepts inputs from (its name, or "local"). */
  readonly bucket: string;
}

let built: TriggerDependencies | undefined;

/**
 * Where the triggers start jobs, built once per cold start: Step Functions over the S3 bucket, or, when
 * PIPELINE_DATA_DIR names a folder, that folder as the bucket and its `executions/` as the queue, so
 * `serverless invoke local` runs the same handlers with no AWS account.
 */
export function triggerDependencies(environment: NodeJS.ProcessEnv = process.env): TriggerDependencies {
  if (built) return built;
  const dataDir = environment.PIPELINE_DATA_DIR;
  if (dataDir) {
    built = {
      store: new LocalObjectStore(dataDir),
      executions: new LocalExecutions(dataDir),
      bucket: 'local',
    };
    return built;
  }
  const stateMachineArn = environment.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new Error('environment variable STATE_MACHINE_ARN is not set');
  built = {
    store: stepDependencies(environment).store,
    executions: new StepFunctionsExecutions(stateMachineArn),
    bucket: environment.BUCKET ?? '',
  };
  return built;
}
