import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executions } from '../core/ports/executions.ts';
import type { RunningExecutions } from '../core/ports/sagemaker-resources.ts';
import { acquireLock, type ProcessLock } from './process-lock.ts';
import { isRunning } from './processes.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface QueuedExecution {
  readonly name: string;
  readonly input: Record<string, unknown>;
  readonly queuedAt: string;
  /** Absent while the execution waits for a runner. */
  readonly status?: ExecutionStatus;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** The process running it, while it runs. */
  readonly pid?: number;
  /** When that process started (ProcessIdentity.start): a pid given to another process since is not it. */
  readonly processStart?: string;
  readonly error?: { readonly name: string; readonly message: string };
}

/**
 * Executions started on one machine: each is a file `<dir>/executions/<name>.json`, created only if it
 * does not exist yet (an exclusive create), so a name starts once however often it is asked for. A
 * local runner claims one (the lock `<name>.lock`, held while it runs it) and records its status in
 * the same file.
 */
export class LocalExecutions implements Executions, RunningExecutions {
  private readonly folder: string;

  constructor(dataDir: string) {
    this.folder = join(dataDir, 'executions');
  }

  async start(
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionArn: string; started: boolean }> {
    await mkdir(this.folder, { recursive: true });
    const execution: QueuedExecution = { name, input, queuedAt: new Date().toISOString() };
    try {
      await writeFile(this.path(name), JSON.stringify(execution, null, 2), { flag: 'wx' });
      return { executionArn: `local:execution:${name}`, started: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { executionArn: `local:execution:${name}`, started: false };
    }
  }

  async get(name: string): Promise<QueuedExecution | undefined> {
    try {
      return JSON.parse(await readFile(this.path(name), 'utf8')) as QueuedExecution;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Records a status change; the file is replaced whole, so a reader never sees half of it. */
  async update(
    name: string,
    change: Pick<QueuedExecution, 'status'> & Partial<QueuedExecution>,
  ): Promise<QueuedExecution> {
    const current = await this.get(name);
    if (!current) throw new Error(`no execution ${name}`);
    const updated: QueuedExecution = { ...current, ...change };
    const partial = `${this.path(name)}.${process.pid}.partial`;
    await writeFile(partial, JSON.stringify(updated, null, 2));
    await rename(partial, this.path(name));
    return updated;
  }

  /**
   * Claims the execution for this process: no other runner takes it until the claim is released, or
   * this process has ended. Throws LockHeldError naming the running process that holds it.
   */
  async claim(name: string): Promise<ProcessLock> {
    await mkdir(this.folder, { recursive: true });
    return acquireLock(join(this.folder, `${name}.lock`));
  }

  /** The names of the executions, in order. */
  async names(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(this.folder);
    } catch {
      return [];
    }
    return files
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.slice(0, -'.json'.length))
      .sort();
  }

  /** Every execution, read one at a time: a data dir of thousands opens one file at a time. */
  async list(): Promise<QueuedExecution[]> {
    const executions: QueuedExecution[] = [];
    for (const name of await this.names()) {
      const execution = await this.get(name);
      if (execution) executions.push(execution);
    }
    return executions;
  }

  /** Executions running now: RUNNING in a process that is still alive (one that died left them RUNNING). */
  async running(): Promise<string[]> {
    return (await this.list())
      .filter((execution) => execution.status === 'RUNNING' && !wasInterrupted(execution))
      .map((execution) => execution.name);
  }

  private path(name: string): string {
    return join(this.folder, `${name}.json`);
  }
}

/** Whether the execution was running in a process that ended before it could record how it ended. */
export function wasInterrupted(execution: QueuedExecution): boolean {
  if (execution.status !== 'RUNNING') return false;
  const { pid, processStart } = execution;
  return pid === undefined || !isRunning({ pid, start: processStart });
}
