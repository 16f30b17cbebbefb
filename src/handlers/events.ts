import * as z from 'zod';
import { compileJob } from '../core/spec/compile.ts';

/**
 * The shapes the state machine passes to the step functions (see statemachine/pipeline.asl.json). A
 * job spec in an event is compiled as it is read: every step gets the compiled job.
 */
export const compiledJob = z.unknown().transform((spec) => compileJob(spec));

export const plannedInput = z.object({
  index: z.number().int().min(0),
  key: z.string().min(1),
  name: z.string().min(1),
  size: z.number().int().min(0),
});

/** What a Map over the plan's inputs gives each iteration: the job, and one input. */
export const perInputEvent = z.object({ jobId: z.string().min(1), spec: compiledJob, input: plannedInput });

/** An EventBridge scheduled event; its time is the moment it fired. */
export const scheduledEvent = z.object({ time: z.iso.datetime() });
