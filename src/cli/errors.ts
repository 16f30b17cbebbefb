import { PipelineError } from '../core/errors.ts';

/** A command line that cannot be run as given: exit status 2, before anything runs. */
export class UsageError extends PipelineError {
  override readonly name = 'UsageError';
}
