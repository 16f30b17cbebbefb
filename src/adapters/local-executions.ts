import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executions } from '../core/ports/executions.ts';

export interface QueuedExecution {
  readonly name: string;
  readonly input: Record<string, unknown>;
  readonly queuedAt: string;
}

/**
 * Executions started on one machine: each is a file `<dir>/executions/<name>.json`, created only if it
 * does not exist yet (an exclusive create), so a name starts once however often it is asked for. The
 * local runner picks them up; the triggers need nothing more.
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
      await writeFile(join(this.folder, `${name}.json`), JSON.stringify(execution, null, 2), { flag: 'wx' });
      return { executionArn: `local:execution:${name}`, started: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { executionArn: `local:execution:${name}`, started: false };
    }
  }

  async list(): Promise<QueuedExecution[]> {
    let names: string[];
    try {
      names = (await readdir(this.folder)).filter((name) => name.endsWith('.json')).sort();
    } catch {
      return [];
    }
    return Promise.all(
      names.map(
        async (name) => JSON.parse(await readFile(join(this.folder, name), 'utf8')) as QueuedExecution,
      ),
    );
  }
}
