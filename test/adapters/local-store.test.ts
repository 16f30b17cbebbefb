import { mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SMALL_FILE_BYTES } from '../../src/adapters/file-sink.ts';
import { LocalObjectStore } from '../../src/adapters/local-store.ts';
import { readText, writeText } from '../../src/core/ports/object-store.ts';
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

  it('lists keys in UTF-8 byte order, as S3 does, characters past U+FFFF last', async () => {
    const names = ['\u{1F600}.jsonl', '\u{E000}.jsonl', 'z.jsonl'];
    for (const name of names) await writeText(store, `utf8/${name}`, name);
    const listed: string[] = [];
    for await (const object of store.list('utf8/')) listed.push(object.key);
    expect(listed).toEqual(['utf8/z.jsonl', 'utf8/\u{E000}.jsonl', 'utf8/\u{1F600}.jsonl']);
  });

  it('never reads through a symbolic link that leads out of its folder', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'pipeline-outside-'));
    await writeFile(join(outside, 'secret.jsonl'), 'secret');
    await mkdir(join(store.root, 'links'), { recursive: true });
    await symlink(join(outside, 'secret.jsonl'), join(store.root, 'links', 'file.jsonl'));
    await symlink(outside, join(store.root, 'links', 'folder'));
    await symlink(join(store.root, 'links', 'inside.jsonl'), join(store.root, 'links', 'to-inside.jsonl'));
    await writeText(store, 'links/inside.jsonl', 'inside');
    for (const key of ['links/file.jsonl', 'links/folder/secret.jsonl']) {
      await expect(store.head(key)).rejects.toMatchObject({ name: 'InvalidKeyError' });
      await expect(readText(store, key)).rejects.toMatchObject({ name: 'InvalidKeyError' });
    }
    expect(await readText(store, 'links/to-inside.jsonl')).toBe('inside');
    const listed: string[] = [];
    for await (const object of store.list('links/')) listed.push(object.key);
    expect(listed).toEqual(['links/inside.jsonl']);
  });

  it('lists temporary files with the process writing them, without following links out', async () => {
    const small = await store.write('temporaries/small.jsonl');
    await small.write(Buffer.from('held in memory until closed'));
    expect(await store.temporaries()).toEqual([]);
    await small.abort();
    const sink = await store.write('temporaries/out.jsonl');
    // Past what is held in memory: the file is on disk under its temporary name.
    await sink.write(Buffer.alloc(SMALL_FILE_BYTES + 1, 'x'));
    const outside = await mkdtemp(join(tmpdir(), 'pipeline-outside-'));
    await writeFile(join(outside, 'theirs.jsonl.1.2.partial'), 'not ours');
    await symlink(outside, join(store.root, 'temporaries', 'elsewhere'));
    const [temporary, ...others] = await store.temporaries();
    expect(others).toEqual([]);
    expect(temporary).toMatchObject({ writer: process.pid });
    expect(temporary?.path).toMatch(/^temporaries\/out\.jsonl\.\d+\.\d+\.partial$/);
    await store.deleteTemporary(temporary?.path ?? '');
    expect(await store.temporaries()).toEqual([]);
    await expect(store.deleteTemporary('temporaries/out.jsonl')).rejects.toMatchObject({
      name: 'InvalidKeyError',
    });
    await sink.abort();
  });

  it('reads a linked folder of inputs where it is, never further out, and neither writes nor deletes in it', async () => {
    const inputs = await mkdtemp(join(tmpdir(), 'pipeline-inputs-'));
    const outside = await mkdtemp(join(tmpdir(), 'pipeline-outside-'));
    await mkdir(join(inputs, 'nested'));
    await writeFile(join(inputs, 'nested', 'a.jsonl'), 'a');
    await writeFile(join(outside, 'secret.jsonl'), 'secret');
    await symlink(join(outside, 'secret.jsonl'), join(inputs, 'leak.jsonl'));
    const root = await mkdtemp(join(tmpdir(), 'pipeline-store-'));
    await mkdir(join(root, 'inbox'));
    await symlink(inputs, join(root, 'inbox', 'given'), 'dir');
    const linked = new LocalObjectStore(root, { linkedFolders: ['inbox/given/'] });

    expect(await readText(linked, 'inbox/given/nested/a.jsonl')).toBe('a');
    const listed: string[] = [];
    for await (const object of linked.list('inbox/given/')) listed.push(object.key);
    expect(listed).toEqual(['inbox/given/nested/a.jsonl']);
    await expect(readText(linked, 'inbox/given/leak.jsonl')).rejects.toMatchObject({
      name: 'InvalidKeyError',
    });
    await expect(linked.write('inbox/given/new.jsonl')).rejects.toMatchObject({ name: 'InvalidKeyError' });
    for (const prefix of ['inbox/given/nested/', 'inbox/']) {
      await expect(linked.deletePrefix(prefix)).rejects.toMatchObject({ name: 'InvalidKeyError' });
    }
    expect((await readdir(inputs, { recursive: true })).sort()).toEqual([
      'leak.jsonl',
      'nested',
      'nested/a.jsonl',
    ]);
    // Without the option the same link is a way out, refused.
    await expect(readText(new LocalObjectStore(root), 'inbox/given/nested/a.jsonl')).rejects.toMatchObject({
      name: 'InvalidKeyError',
    });
  });

  it('removes the folders that deleting leaves empty', async () => {
    await writeText(store, 'prune/work/job/shard-0', 'x');
    await store.deletePrefix('prune/');
    expect(await readdir(store.root)).not.toContain('prune');
  });

  it('leaves the empty folders outside the prefix, where another job may be about to write', async () => {
    await mkdir(join(store.root, 'inbox'), { recursive: true });
    await mkdir(join(store.root, 'scoped/work/job-2/shards/0'), { recursive: true });
    await writeText(store, 'scoped/work/job-1/shards/0/0.jsonl', 'x');
    await store.deletePrefix('scoped/work/job-1/');
    expect(await readdir(join(store.root, 'scoped/work'))).toEqual(['job-2']);
    expect(await readdir(join(store.root, 'scoped/work/job-2/shards'))).toEqual(['0']);
    expect(await readdir(store.root)).toContain('inbox');
  });
});
