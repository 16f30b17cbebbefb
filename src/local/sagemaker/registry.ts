import { readdirSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SageMakerResource } from '../../core/ports/sagemaker-resources.ts';
import { validationError } from '../errors.ts';

type Kind = SageMakerResource['kind'];

const FOLDERS: Readonly<Record<Kind, string>> = {
  model: 'models',
  endpoint: 'endpoints',
  'endpoint-config': 'endpoint-configs',
};
const NAME = /^[A-Za-z0-9-]{1,63}$/;

/** A resource as the registry keeps it: `<data dir>/sagemaker/<kind>s/<name>.json`. */
interface ResourceRecord {
  readonly kind: Kind;
  readonly name: string;
  readonly createdAt: string;
}

/**
 * What the local SageMaker has created and not deleted yet, one file per resource under
 * `<data dir>/sagemaker/`. A local SageMaker lives in one process's memory; these files let another
 * process (`pipeline sweep`) see what a stopped or crashed run left behind, as SageMaker's own List
 * calls do in the cloud.
 */
export class ResourceRegistry {
  readonly #folder: string;

  constructor(dataDir: string) {
    this.#folder = join(dataDir, 'sagemaker');
  }

  /** Records a new resource; false when one of that kind and name is recorded already. */
  async add(kind: Kind, name: string, createdAt = new Date()): Promise<boolean> {
    const path = this.#path(kind, name);
    await mkdir(join(this.#folder, FOLDERS[kind]), { recursive: true });
    const record: ResourceRecord = { kind, name, createdAt: createdAt.toISOString() };
    // Written aside, then linked into place: the record appears whole, and only if none was there.
    const partial = `${path}.${process.pid}.${Date.now()}.partial`;
    await writeFile(partial, `${JSON.stringify(record)}\n`);
    try {
      await link(partial, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(partial, { force: true });
    }
  }

  /** Forgets a resource; whether it was recorded. */
  async remove(kind: Kind, name: string): Promise<boolean> {
    try {
      await rm(this.#path(kind, name));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** The names recorded for a kind, in order. */
  names(kind: Kind): string[] {
    try {
      return readdirSync(join(this.#folder, FOLDERS[kind]))
        .filter((file) => file.endsWith('.json'))
        .map((file) => file.slice(0, -'.json'.length))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Every resource recorded, with the time it was created. */
  async list(): Promise<SageMakerResource[]> {
    const found: SageMakerResource[] = [];
    for (const kind of Object.keys(FOLDERS) as Kind[]) {
      const folder = join(this.#folder, FOLDERS[kind]);
      let files: string[];
      try {
        files = await readdir(folder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      for (const file of files.filter((name) => name.endsWith('.json')).sort()) {
        let text: string;
        try {
          text = await readFile(join(folder, file), 'utf8');
        } catch (error) {
          // Deleted since the folder was read: it no longer exists.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw error;
        }
        const record = JSON.parse(text) as ResourceRecord;
        found.push({ kind, name: record.name, createdAt: new Date(record.createdAt) });
      }
    }
    return found;
  }

  #path(kind: Kind, name: string): string {
    if (!NAME.test(name)) {
      throw validationError(`${name} is not a SageMaker name: [A-Za-z0-9-], at most 63 characters`);
    }
    return join(this.#folder, FOLDERS[kind], `${name}.json`);
  }
}
