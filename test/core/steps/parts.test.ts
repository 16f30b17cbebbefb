import { Field, Float64, List, Table, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import { resolveJob } from '../../../src/core/spec/compile.ts';
import { finishStep } from '../../../src/core/steps/finish.ts';
import { mergedKey, partOutputKey } from '../../../src/core/steps/layout.ts';
import type { MergedGroup, MergedInput } from '../../../src/core/steps/merge.ts';
import { cutRowGroups, parquetParts } from '../../../src/core/steps/parts.ts';
import { MemoryStore } from '../../support/memory-store.ts';
import { parquetFile } from '../../support/parquet.ts';

describe('cutRowGroups', () => {
  it('cuts consecutive row groups into parts of at most the bound, a larger row group a part alone', () => {
    const groups = [100, 100, 100, 250, 50, 50].map((bytes) => ({ rows: bytes / 10, bytes }));
    expect(cutRowGroups(groups, 200)).toEqual([
      { part: 0, parts: 4, rowGroups: { first: 0, end: 2 }, rows: 20, bytes: 200 },
      { part: 1, parts: 4, rowGroups: { first: 2, end: 3 }, rows: 10, bytes: 100 },
      { part: 2, parts: 4, rowGroups: { first: 3, end: 4 }, rows: 25, bytes: 250 },
      { part: 3, parts: 4, rowGroups: { first: 4, end: 6 }, rows: 10, bytes: 100 },
    ]);
    expect(cutRowGroups(groups, 10_000)).toHaveLength(1);
  });
});

describe('parquetParts', () => {
  const job = resolveJob({ model: 's3://b/m.tar.gz' });
  const bytes = parquetFile(
    new Table({
      features: vectorFromArray(
        Array.from({ length: 12 }, (_, k) => [k, k]),
        new List(new Field('item', new Float64(), true)),
      ),
    }),
    { rowGroupRows: 3 },
  );

  it('splits a Parquet file larger than the bound by the row groups of its footer', async () => {
    const store = new MemoryStore();
    const sink = await store.write('inbox/t.parquet');
    await sink.write(bytes);
    await sink.close();
    const input = { key: 'inbox/t.parquet', name: 't.parquet', size: bytes.length, request: 0 };
    const parts = await parquetParts(store, job, input, 1);
    expect(parts?.map((part) => [part.rowGroups.first, part.rowGroups.end, part.rows])).toEqual([
      [0, 1, 3],
      [1, 2, 3],
      [2, 3, 3],
      [3, 4, 3],
    ]);
    expect(await parquetParts(store, job, input, bytes.length)).toBeUndefined();
    expect(await parquetParts(store, job, { ...input, key: 'inbox/t.jsonl' }, 1)).toBeUndefined();
  });
});

describe('finishStep over a split input', () => {
  const job = resolveJob({ model: 's3://b/m.tar.gz' });
  const plan = {
    jobId: 'j',
    groups: [0, 1].map((group) => ({ group, first: 0, count: 1, bytes: 10, part: group })),
    startedAt: '2026-12-07T00:00:00.000Z',
  };

  async function merged(store: MemoryStore, counts: { records: number; rows: number }[]) {
    for (const [part, { records, rows }] of counts.entries()) {
      const input: MergedInput = {
        key: 't.parquet',
        records,
        errors: 0,
        out: records,
        skipped: 0,
        output: partOutputKey('j', 0, part),
        part: { index: 0, part, parts: counts.length, rows },
      };
      const group: MergedGroup = { kind: 'inputs', inputs: [input] };
      await writeText(store, mergedKey('j', part), JSON.stringify(group));
      await writeText(store, partOutputKey('j', 0, part), `part ${part}\n`);
    }
  }

  it("writes the parts' outputs, in order, into the input's output, one entry in the summary", async () => {
    const store = new MemoryStore();
    await merged(store, [
      { records: 3, rows: 3 },
      { records: 2, rows: 2 },
    ]);
    const summary = await finishStep(store, plan, job);
    expect(await readText(store, 'results/j/t.parquet.out')).toBe('part 0\npart 1\n');
    expect(summary.inputs).toEqual([
      { key: 't.parquet', records: 5, errors: 0, output: 'results/j/t.parquet.out' },
    ]);
  });

  it('fails, writing no output, when the parts read other than the rows the footer holds', async () => {
    const store = new MemoryStore();
    await merged(store, [
      { records: 3, rows: 3 },
      { records: 1, rows: 2 },
    ]);
    await expect(finishStep(store, plan, job)).rejects.toMatchObject({
      name: 'CountMismatchError',
      message:
        't.parquet: its 2 parts read 4 rows of the 5 its footer holds, 4 out and 0 in error: the counts do not add up',
    });
    expect(await store.head('results/j/t.parquet.out')).toBeUndefined();
  });
});
