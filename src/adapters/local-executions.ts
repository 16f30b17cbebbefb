import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executions } from '../core/ports/executions.ts';

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
  readonly error?: { readonly name: string; readonly message: string };
}

/**
 * Executions started on one machine: each is a file `<dir>/executions/<name>.json`, created only if it
 * does not exist yet (an exclusive create), so a name starts once however often it is asked for. A
 * local runner claims a waiting one and records its status in the same file.
 */
export class LocalExecutions implements Executions {
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

  async list(): Promise<QueuedExecution[]> {
    let names: string[];
    try {
      names = (await readdir(this.folder)).filter((name) => name.endsWith('.json')).sort();
    } catch {
      return [];
    }
    const executions = await Promise.all(names.map((name) => this.get(name.slice(0, -'.json'.length))));
    return executions.filter((execution) => execution !== undefined);
  }

  private path(name: string): string {
    return join(this.folder, `${name}.json`);
  }
}
