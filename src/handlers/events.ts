import * as z from 'zod/mini';
import { compileJob } from '../core/spec/compile.ts';

/**
 * The shapes the state machine passes to the step functions (see statemachine/pipeline.asl.json). A
 * job spec in an event is compiled as it is read: every step gets the compiled job.
 */
export const compiledJob = z.pipe(
  z.unknown(),
  z.transform((spec) => compileJob(spec)),
);

const id = z.string().check(z.minLength(1));
const count = z.int().check(z.minimum(0));

/** A group of inputs; `part`: the group is that part of a Parquet file split by row groups. */
export const inputGroup = z.object({
  group: count,
  first: count,
  count,
  bytes: count,
  part: z.optional(count),
});

/** Where a whole-object job's objects are: the manifest's prefix, and how many it lists. */
export const transformObjects = z.optional(z.object({ prefix: z.string(), sent: count }));

/** What the Map over the plan's groups gives each Shard: the job, and one group of inputs. */
export const perGroupEvent = z.object({ jobId: id, spec: compiledJob, group: inputGroup });

/**
 * What the Map over the plan's groups gives each Merge: also where a whole-object job's objects are,
 * and the transform job's failure when it failed (whole-object jobs are merged all the same).
 */
export const mergeGroupEvent = z.object({
  jobId: id,
  spec: compiledJob,
  group: inputGroup,
  transform: z.object({ objects: transformObjects }),
  scoring: z.object({
    transformFailure: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  }),
});
