import { type ObjectStore, readText } from '../ports/object-store.ts';
import type { CompiledJob } from '../spec/compile.ts';
import type { JobSpec } from '../spec/job.ts';
import { indexKey } from './layout.ts';
import type { Plan } from './plan.ts';
import type { GroupIndex } from './shard.ts';

/** Whether a job of this many records is scored on a serverless endpoint rather than by a transform job. */
export function scoresOnEndpoint(spec: JobSpec, records: number): boolean {
  return records < spec.endpointMaxRecords;
}

/** Why a job of this many records is scored as it is; `complete` is false when counting stopped early. */
export function scoringReason(spec: JobSpec, records: number, complete = true): string {
  const threshold = spec.endpointMaxRecords;
  if (threshold === 0) return 'endpointMaxRecords is 0';
  return scoresOnEndpoint(spec, records)
    ? `${records} records, fewer than endpointMaxRecords ${threshold}`
    : `${records}${complete ? '' : ' or more'} records, not fewer than endpointMaxRecords ${threshold}`;
}

export interface ScoringChoice {
  /** No record reached a shard (all quarantined, or empty inputs): nothing is sent to a model. */
  readonly empty: boolean;
  readonly endpoint: boolean;
  /** The serving image the model is created with: a serverless endpoint runs on CPU. */
  readonly image: string;
  readonly reason: string;
}

/**
 * Route step, once every group is sharded: the records to score are known exactly (the plan, before
 * reading the inputs, could only guess them from sizes), and a job of fewer than endpointMaxRecords goes
 * to a serverless endpoint. Counting stops at the threshold. A job with nothing to score (every record
 * quarantined) skips the model altogether and goes on to Merge, which writes the errors.
 */
export async function chooseScoringStep(
  store: ObjectStore,
  plan: Pick<Plan, 'jobId' | 'groups'> & {
    model: Pick<Plan['model'], 'image' | 'serverlessImage'>;
    transform: Pick<Plan['transform'], 'objects'>;
  },
  { spec }: CompiledJob,
): Promise<ScoringChoice> {
  const transform = { endpoint: false, image: plan.model.image };
  const { objects } = plan.transform;
  if (objects) {
    // Each object is one request whose failure must fail only its own line: a transform job does that.
    return {
      ...transform,
      empty: objects.sent === 0,
      reason: 'whole-object jobs are scored by a transform job',
    };
  }
  const sent = async (group: Plan['groups'][number]) =>
    (JSON.parse(await readText(store, indexKey(plan.jobId, group.group))) as GroupIndex).records.sent;
  let empty = true;
  for (const group of plan.groups) {
    if ((await sent(group)) > 0) {
      empty = false;
      break;
    }
  }
  if (spec.endpointMaxRecords === 0) return { ...transform, empty, reason: scoringReason(spec, 0) };
  let records = 0;
  for (const [k, group] of plan.groups.entries()) {
    records += await sent(group);
    if (!scoresOnEndpoint(spec, records)) {
      return { ...transform, empty, reason: scoringReason(spec, records, k === plan.groups.length - 1) };
    }
  }
  return {
    empty,
    endpoint: true,
    image: plan.model.serverlessImage,
    reason: scoringReason(spec, records),
  };
}
