import { PipelineError } from '../core/errors.ts';

/** The event did not have the shape the function takes: a bug in the caller, not retried. */
export class InvalidEventError extends PipelineError {
  override readonly name = 'InvalidEventError';
}
