import { PipelineError } from '../core/errors.ts';

/** A command line that cannot be run as given: exit status 2, before anything runs. */
export class UsageError extends PipelineError {
  override readonly name = 'UsageError';
}

export interface Output {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal, where progress rewrites one line. */
  readonly interactive: boolean;
}

export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};
