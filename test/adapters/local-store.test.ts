import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { writeText } from '../../src/core/ports/object-store.ts';
import { objectStoreContract } from './object-store.contract.ts';

let store: LocalObjectStore;
beforeAll(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-store-')));
});

objectStoreContract('local folder', () => store);

describe('local folder store', () => {
  it('refuses keys that would leave its folder', async () => {
    for (const key of ['../escape', 'inbox/../../escape', '/etc/passwd', 'a/./b', '', 'a\\..\\b']) {
      await expect(store.write(key)).rejects.toMatchObject({ name: 'InvalidKeyError' });
    }
  });

  it('removes the folders that deleting leaves empty', async () => {
    await writeText(store, 'prune/work/job/shard-0', 'x');
    await store.deletePrefix('prune/');
    expect(await readdir(store.root)).not.toContain('prune');
  });
});
