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

/** The folder playing the bucket when a command is not given one. */
export const DEFAULT_DATA_DIR = '.pipeline';
