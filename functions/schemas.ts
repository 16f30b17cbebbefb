import { z } from 'zod';
import { jobSpecSchema } from '../src/core/spec/job.ts';

/** The shapes the state machine passes to the step functions (see statemachine/pipeline.asl.json). */
export const plannedInput = z.object({
  index: z.number().int().min(0),
  key: z.string().min(1),
  name: z.string().min(1),
  size: z.number().int().min(0),
});

export const perInputEvent = z.object({ jobId: z.string().min(1), spec: jobSpecSchema, input: plannedInput });
