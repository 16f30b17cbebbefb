import { main } from '../../src/cli/main.ts';
import type { RunReport } from '../../src/cli/run.ts';
import type { Output } from '../../src/cli/usage.ts';

/**
 * `pipeline <args>` in this process, as users run it: its exit status, what it printed, and with
 * `--json` the report on its last line.
 */
export async function pipeline(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const output: Output = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    interactive: false,
  };
  const code = await main(args, output);
  const last = stdout.trim().split('\n').pop() ?? '';
  return {
    code,
    stdout,
    stderr,
    report: args.includes('--json') && last.startsWith('{') ? (JSON.parse(last) as RunReport) : undefined,
  };
}
