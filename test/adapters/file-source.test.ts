import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileChunks } from '../../src/adapters/file-source.ts';

async function fileOf(bytes: Buffer): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'pipeline-source-')), 'input');
  await writeFile(path, bytes);
  return path;
}

describe('readFileChunks', () => {
  it('gives the file whole, in order, and each chunk stays valid while the next is read', async () => {
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, k) => k % 251));
    const path = await fileOf(bytes);
    const seen: Buffer[] = [];
    let previous: { chunk: Buffer; copy: Buffer } | undefined;
    for await (const chunk of readFileChunks(path, 1000)) {
      // The chunk before is what it was when it came, though the next one has been read meanwhile.
      if (previous) expect(previous.chunk.equals(previous.copy)).toBe(true);
      previous = { chunk, copy: Buffer.from(chunk) };
      seen.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(seen).equals(bytes)).toBe(true);
    expect(seen.map((chunk) => chunk.length)).toEqual(Array.from({ length: 10 }, () => 1000));
  });

  it('closes the file when the reader stops early, and names a missing file', async () => {
    const path = await fileOf(Buffer.alloc(5000, 1));
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let k = 0; k < 20; k++) {
      for await (const chunk of readFileChunks(path, 1000)) {
        expect(chunk.length).toBe(1000);
        break;
      }
    }
    expect(await openFiles()).toBe(before);
    await expect(async () => {
      for await (const _ of readFileChunks(join(tmpdir(), 'no-such-file-here'))) break;
    }).rejects.toThrow(/ENOENT.*no-such-file-here/);
  });
});
