import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ByteRange } from '../../src/core/io.ts';
import { type ObjectStore, readText, writeText } from '../../src/core/ports/object-store.ts';

async function readAll(store: ObjectStore, key: string, range?: ByteRange): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(key, range)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.list(prefix)) found.push(object.key);
  return found;
}

/** What every ObjectStore adapter must do, run against each of them. */
export function objectStoreContract(name: string, store: () => ObjectStore): void {
  describe(`${name} object store`, () => {
    it('gives back the bytes written, small, empty and large (several upload parts)', async () => {
      const large = randomBytes(12 << 20);
      for (const [key, body] of [
        ['contract/rw/small.bin', Buffer.from([0, 1, 2, 255])],
        ['contract/rw/empty', Buffer.alloc(0)],
        ['contract/rw/large.bin', large],
      ] as const) {
        const sink = await store().write(key);
        for (let at = 0; at < body.length; at += 1 << 20) await sink.write(body.subarray(at, at + (1 << 20)));
        await sink.close();
        expect((await readAll(store(), key)).equals(body)).toBe(true);
        expect((await store().head(key))?.size).toBe(body.length);
      }
    });

    it('reads a byte range: from its start up to its end, across chunks, empty, or to the end of the object', async () => {
      const body = randomBytes(3 << 20);
      await writeText(store(), 'contract/range/small.txt', 'parquet footer');
      const sink = await store().write('contract/range/large.bin');
      await sink.write(body);
      await sink.close();
      const range = { start: (1 << 20) - 7, end: (2 << 20) + 11 };
      expect(
        (await readAll(store(), 'contract/range/large.bin', range)).equals(
          body.subarray(range.start, range.end),
        ),
      ).toBe(true);
      expect((await readAll(store(), 'contract/range/small.txt', { start: 8, end: 14 })).toString()).toBe(
        'footer',
      );
      expect(await readAll(store(), 'contract/range/small.txt', { start: 3, end: 3 })).toHaveLength(0);
      expect((await readAll(store(), 'contract/range/small.txt', { start: 8, end: 1000 })).toString()).toBe(
        'footer',
      );
      await expect(
        readAll(store(), 'contract/range/missing.bin', { start: 0, end: 4 }),
      ).rejects.toMatchObject({
        name: 'ObjectNotFoundError',
      });
    });

    it('keeps the order of writes issued without waiting for one another', async () => {
      const pieces = Array.from({ length: 40 }, (_, k) => randomBytes(1 + ((k * 7919) % (300 << 10))));
      const sink = await store().write('contract/overlap/out.bin');
      await Promise.all(pieces.map((piece) => sink.write(piece)));
      await sink.close();
      expect((await readAll(store(), 'contract/overlap/out.bin')).equals(Buffer.concat(pieces))).toBe(true);
    });

    it('shows an object only once it is closed', async () => {
      const sink = await store().write('contract/atomic/out.jsonl');
      await sink.write(Buffer.from('{"a":1}\n'));
      expect(await store().head('contract/atomic/out.jsonl')).toBeUndefined();
      await sink.close();
      expect(await readText(store(), 'contract/atomic/out.jsonl')).toBe('{"a":1}\n');
    });

    it('drops an aborted write: no object appears, and nothing of it is listed', async () => {
      const sink = await store().write('contract/aborted/out.jsonl');
      await sink.write(Buffer.from('{"a":1}\n'));
      await sink.abort();
      expect(await store().head('contract/aborted/out.jsonl')).toBeUndefined();
      expect(await keys(store(), 'contract/aborted/')).toEqual([]);
    });

    it('says which key is missing', async () => {
      await expect(readAll(store(), 'contract/missing/nothing.json')).rejects.toMatchObject({
        name: 'ObjectNotFoundError',
        key: 'contract/missing/nothing.json',
      });
      expect(await store().head('contract/missing/nothing.json')).toBeUndefined();
    });

    it('changes the etag when the content is replaced', async () => {
      await writeText(store(), 'contract/etag/spec.json', '{"model":"a"}');
      const first = await store().head('contract/etag/spec.json');
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeText(store(), 'contract/etag/spec.json', '{"model":"bb"}');
      const second = await store().head('contract/etag/spec.json');
      expect(second?.etag).not.toBe(first?.etag);
      expect(await readText(store(), 'contract/etag/spec.json')).toBe('{"model":"bb"}');
    });

    it('lists keys under a prefix in key order, with spaces, + and non-ASCII characters, past one page', async () => {
      const names = ['a b.jsonl', 'c+d.jsonl', 'données/é.csv', 'z.jsonl'];
      for (const n of names) await writeText(store(), `contract/list/${n}`, n);
      await writeText(store(), 'contract/listed-not/x', 'x');
      expect(await keys(store(), 'contract/list/')).toEqual(names.map((n) => `contract/list/${n}`).sort());
      const many = Array.from({ length: 1005 }, (_, k) => `contract/page/${String(k).padStart(4, '0')}`);
      await Promise.all(many.map((key) => writeText(store(), key, '.')));
      expect(await keys(store(), 'contract/page/')).toEqual(many);
    });

    it('deletes everything under a prefix and nothing else', async () => {
      for (const key of [
        'contract/work/job-1/shard-0',
        'contract/work/job-1/a/b',
        'contract/work/job-10/keep',
      ]) {
        await writeText(store(), key, key);
      }
      expect(await store().deletePrefix('contract/work/job-1/')).toBe(2);
      expect(await keys(store(), 'contract/work/')).toEqual(['contract/work/job-10/keep']);
    });
  });
}
