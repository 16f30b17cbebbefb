import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/pipeline.js', import.meta.url));

export interface ServeProcess {
  readonly url: string;
  /** What it printed on stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `pipeline serve --port 0 <args>` as a user starts it, in its own process: resolves with its URL once it
 * prints it, or rejects with what it printed when it exits first.
 */
export function pipelineServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /^(http:\/\/\S+)\n/m.exec(stdout)?.[1];
      if (url) {
        resolve({
          url,
          stderr: () => stderr,
          stop: async () => {
            if (child.exitCode !== null) return;
            child.kill('SIGTERM');
            await once(child, 'exit');
          },
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`pipeline serve exited with ${code}: ${stderr}`)));
  });
}
