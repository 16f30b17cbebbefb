import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandInputs } from '../../src/cli/inputs.ts';

let dir = '';

async function file(path: string, content = 'x\n'): Promise<string> {
  const full = join(dir, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, content);
  return full;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-inputs-'));
});

describe('commandInputs', () => {
  it('lists a folder in the UTF-8 byte order of its keys, as S3 lists them, following links once', async () => {
    for (const name of ['b/z.jsonl', 'B.jsonl', 'a-b.jsonl', 'a/b.jsonl', 'é.jsonl', 'z.jsonl']) {
      await file(`keys/${name}`);
    }
    await symlink(join(dir, 'keys'), join(dir, 'keys', 'b', 'loop'));
    const [folder] = await commandInputs([join(dir, 'keys')]);
    expect(folder?.folder).toBe('keys');
    expect(folder?.files.map((listed) => listed.name)).toEqual([
      'B.jsonl',
      'a-b.jsonl',
      'a/b.jsonl',
      'b/z.jsonl',
      'z.jsonl',
      'é.jsonl',
    ]);
  });

  it('names a file given by itself by its base name', async () => {
    const path = await file('deep/down/one.csv', '1,2\n');
    expect(await commandInputs([path])).toEqual([
      { given: path, files: [{ path, name: 'one.csv', size: 4 }] },
    ]);
  });
});
