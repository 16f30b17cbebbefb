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

export const plannedInput = z.object({
  index: count,
  key: id,
  name: id,
  size: count,
});

/** What a Map over the plan's inputs gives each iteration: the job, and one input. */
export const perInputEvent = z.object({ jobId: id, spec: compiledJob, input: plannedInput });

/** An EventBridge scheduled event; its time is the moment it fired. */
export const scheduledEvent = z.object({ time: z.iso.datetime() });
