import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTarGz } from '../../../src/local/tar/extract.ts';
import { BLOCK, encodeHeader, paddingOf } from '../../../src/local/tar/header.ts';
import { packTarGz } from '../../../src/local/tar/pack.ts';

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tar-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Entry {
  name: string;
  flag?: string;
  data?: string;
  linkname?: string;
}

/** A .tar.gz holding exactly these entries, however unsafe. */
async function archive(entries: readonly Entry[]): Promise<string> {
  const blocks: Uint8Array[] = [];
  for (const { name, flag = '0', data = '', linkname = '' } of entries) {
    const bytes = Buffer.from(data);
    blocks.push(encodeHeader({ name, mode: 0o644, size: bytes.length, mtime: 0, flag, linkname }));
    blocks.push(bytes, new Uint8Array(paddingOf(bytes.length)));
  }
  blocks.push(new Uint8Array(BLOCK * 2));
  const path = join(root, `${count++}.tar.gz`);
  await writeFile(path, gzipSync(Buffer.concat(blocks)));
  return path;
}

async function unpack(path: string, maxBytes = 1024 * 1024): Promise<string> {
  const into = join(root, `out-${count++}`);
  await mkdir(into);
  await extractTarGz(path, into, { maxBytes });
  return into;
}

describe('extractTarGz', () => {
  it('unpacks what GNU tar packs, and what packTarGz packs, names longer than a header holds included', async () => {
    const source = join(root, 'source');
    const deep = join(source, 'm', '00000123', 'variables', 'a'.repeat(90), 'b'.repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'weights.bin'), 'weights');
    await writeFile(join(source, 'm', '00000123', 'saved_model.pb'), 'graph');
    const gnu = join(root, 'gnu.tar.gz');
    await promisify(execFile)('tar', ['-czf', gnu, '-C', source, 'm']);
    const ours = join(root, 'ours.tar.gz');
    await packTarGz([{ source: join(source, 'm'), name: 'm' }], ours);

    for (const path of [gnu, ours]) {
      const out = await unpack(path);
      const relative = join('m', '00000123', 'variables', 'a'.repeat(90), 'b'.repeat(90), 'weights.bin');
      expect(await readFile(join(out, relative), 'utf8')).toBe('weights');
      expect(await readFile(join(out, 'm', '00000123', 'saved_model.pb'), 'utf8')).toBe('graph');
    }
  });

  it('makes links that stay inside', async () => {
    const out = await unpack(
      await archive([
        { name: '1/', flag: '5' },
        { name: '1/model.onnx', data: 'model' },
        { name: 'latest', flag: '2', linkname: '1' },
        { name: '1/copy.onnx', flag: '1', linkname: '1/model.onnx' },
      ]),
    );
    expect((await lstat(join(out, 'latest'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(out, 'latest', 'copy.onnx'), 'utf8')).toBe('model');
  });

  it('refuses entries that leave the folder, naming them, and writes nothing outside', async () => {
    const cases: [Entry[], string][] = [
      [
        [
          { name: '1/model.onnx', data: 'x' },
          { name: '../escaped.txt', data: 'x' },
        ],
        'entry ../escaped.txt leaves the model folder (..)',
      ],
      [[{ name: '1/../../escaped.txt', data: 'x' }], 'entry 1/../../escaped.txt leaves the model folder'],
      [[{ name: '/tmp/escaped.txt', data: 'x' }], 'entry /tmp/escaped.txt has an absolute path'],
      [
        [{ name: 'out', flag: '2', linkname: '../../etc' }],
        'entry out is a link to ../../etc, outside the model folder',
      ],
      [
        [{ name: 'abs', flag: '2', linkname: '/etc/passwd' }],
        'entry abs is a link to /etc/passwd, outside the model folder',
      ],
      [
        [{ name: 'hard', flag: '1', linkname: '../secret' }],
        'entry hard is a link to ../secret, outside the model folder',
      ],
      [[{ name: 'fifo', flag: '6' }], 'entry fifo is a device or pipe'],
    ];
    for (const [entries, message] of cases) {
      const before = await readdir(root);
      await expect(unpack(await archive(entries))).rejects.toMatchObject({
        name: 'UnsafeArchiveError',
        message: expect.stringContaining(message),
      });
      expect((await readdir(root)).filter((name) => name.startsWith('escaped'))).toEqual([]);
      expect((await readdir(root)).length).toBe(before.length + 2);
    }
  });

  it('stops at the size limit, naming the entry that goes over', async () => {
    const path = await archive([
      { name: 'small.bin', data: 'x'.repeat(600) },
      { name: 'large.bin', data: 'x'.repeat(600) },
    ]);
    await expect(unpack(path, 1000)).rejects.toThrow(
      'entry large.bin takes the unpacked size over the limit of 1000 bytes',
    );
  });

  it('says when the file is not a .tar.gz', async () => {
    const path = join(root, 'plain.tar.gz');
    await writeFile(path, 'not gzip at all');
    await expect(unpack(path)).rejects.toThrow(`${path} cannot be read as a .tar.gz`);
  });
});
