import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** `pipeline <args>` as users run it: a child process running bin/pipeline.js. */
export function pipelineProcess(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [join(root, 'bin/pipeline.js'), ...args], {
    env: { ...process.env, ...env },
  });
}

/**
 * `pipeline up --data-dir <dir> --port 0 <args>` in a child process, its log (stderr) read line by
 * line as it comes.
 */
export class UpProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  /** The webhook's URL, once it has printed it; rejects if it ends first. */
  readonly url: Promise<string>;
  /** How it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiting = new Set<() => void>();

  constructor(dataDir: string, args: string[] = [], env: Record<string, string> = {}) {
    this.child = pipelineProcess(['up', '--data-dir', dataDir, '--port', '0', ...args], env);
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.lines.push(line);
      for (const check of this.#waiting) check();
    });
    this.url = Promise.race([
      once(this.child.stdout, 'data').then(([chunk]) => String(chunk).trim()),
      this.exited.then(() => Promise.reject(new Error(`pipeline up ended:\n${this.log}`))),
    ]);
    this.url.catch(() => undefined);
  }

  get log(): string {
    return this.lines.join('\n');
  }

  /** The first log line matching `pattern`, printed already or to come; rejects if the process ends first. */
  line(pattern: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find((line) => pattern.test(line));
        if (found === undefined) return;
        this.#waiting.delete(check);
        resolve(found);
      };
      this.#waiting.add(check);
      check();
      this.exited.then(() => {
        if (!this.#waiting.delete(check)) return;
        reject(new Error(`pipeline up ended before printing ${pattern}:\n${this.log}`));
      });
    });
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: NodeJS.Signals) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
