import * as z from 'zod/mini';

/**
 * An EventBridge scheduled event; its time is the moment it fired. Apart from the step events
 * (events.ts): a scheduled function would otherwise load the job spec's schemas with them.
 */
export const scheduledEvent = z.object({ time: z.iso.datetime() });
