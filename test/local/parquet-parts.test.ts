import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Float64, Int64, List, Table, vectorFromArray } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog, ExecutionOutcome } from '../../src/local/runner.ts';
import { LocalStack } from '../../src/local/stack.ts';
import { scalingModel } from '../support/models.ts';
import { int64Vector, parquetFile } from '../support/parquet.ts';

// A Parquet file too large for one Shard invocation, split by row groups across invocations: the state
// machine file over the whole local stack (the step functions' handlers, the local SageMaker and the
// model server with onnxruntime), the file written by arrow-rs through parquet-wasm.

const ROWS = 30;
const ROW_GROUP_ROWS = 5;

let model = '';
const stacks: LocalStack[] = [];

beforeAll(async () => {
  // A model that answers each row [x, y] with [2x, 2y].
  model = await scalingModel(join(await mkdtemp(join(tmpdir(), 'parts-model-')), 'double'), 1, 2);
});

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((stack) => stack.close()));
});

/** 30 rows in 6 row groups of 5: an int64 id and two features; `nulls` are rows (from 1) without features. */
function table(nulls: readonly number[] = [], untagged: readonly number[] = []): Buffer {
  const rows = Array.from({ length: ROWS }, (_, k) => k + 1);
  return parquetFile(
    new Table({
      id: int64Vector(
        new Int64(),
        rows.map((row) => BigInt(row) * 1_000_000_000_000n),
      ),
      features: vectorFromArray(
        rows.map((row) => (nulls.includes(row) ? null : [row, -row / 4])),
        new List(new Field('item', new Float64(), true)),
      ),
      tag: vectorFromArray(
        rows.map((row) => (untagged.includes(row) ? null : [row])),
        new List(new Field('item', new Float64(), true)),
      ),
    }),
    { rowGroupRows: ROW_GROUP_ROWS, dictionary: false },
  );
}

/** A bound that puts two row groups in each part: the largest two consecutive row groups' bytes. */
function twoRowGroups(bytes: Buffer): number {
  const sizes = parquetMetadata(bytes).row_groups.map((group) =>
    group.columns.reduce((sum, column) => sum + Number(column.meta_data?.total_compressed_size ?? 0n), 0),
  );
  expect(sizes).toHaveLength(ROWS / ROW_GROUP_ROWS);
  const pairs = sizes.slice(1).map((size, k) => size + (sizes[k] as number));
  const triples = sizes.slice(2).map((size, k) => size + (sizes[k] as number) + (sizes[k + 1] as number));
  const bound = Math.max(...pairs);
  expect(bound).toBeLessThan(Math.min(...triples));
  return bound;
}

const job = {
  maxErrorPercent: 50,
  dataProcessing: {
    inputFilter: '$.features[0:2]',
    joinSource: 'Input',
    outputFilter: "$['id','SageMakerOutput']",
  },
};

async function score(name: string, bytes: Buffer, parquetPartBytes?: number, spec: object = job) {
  const dataDir = await mkdtemp(join(tmpdir(), 'parts-'));
  const stack = new LocalStack({ dataDir, ...(parquetPartBytes !== undefined && { parquetPartBytes }) });
  stacks.push(stack);
  const sink = await stack.store.write('inbox/table.parquet');
  await sink.write(bytes);
  await sink.close();
  const shards: number[] = [];
  const merges: number[] = [];
  const outcome: ExecutionOutcome = await stack.run(
    name,
    { inputs: ['inbox/table.parquet'], job: { model, ...spec } },
    {
      onEvent: (event: EventLog) => {
        if (event.type !== 'StateExited') return;
        const group = (event.state.output as { group?: number } | null)?.group ?? -1;
        if (event.state.name === 'Shard') shards.push(group);
        if (event.state.name === 'Merge') merges.push(group);
      },
    },
  );
  const results = join(dataDir, 'results', name);
  const read = (file: string) => readFile(join(results, file), 'utf8').catch(() => undefined);
  return {
    outcome,
    shards: shards.sort(),
    merges: merges.sort(),
    output: await read('table.parquet.out'),
    errors: (await read('_errors.jsonl'))
      ?.split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
    summary: JSON.parse((await read('_summary.json')) ?? 'null'),
  };
}

describe('a Parquet file split by row groups across Shard invocations', () => {
  it('is read in parts of whole row groups, one Shard and one Merge each, into the same output as read whole', async () => {
    // Prepare
    const bytes = table();
    const bound = twoRowGroups(bytes);
    // Act
    const whole = await score('whole', bytes);
    const split = await score('split', bytes, bound);
    // Assess
    expect(whole.outcome.status).toBe('SUCCEEDED');
    expect(split.outcome.status).toBe('SUCCEEDED');
    expect(whole.shards).toEqual([0]);
    expect(split.shards).toEqual([0, 1, 2]);
    expect(split.merges).toEqual([0, 1, 2]);
    expect(split.output).toBe(whole.output);
    const lines = split.output?.split('\n').filter(Boolean) ?? [];
    expect(lines).toHaveLength(ROWS);
    expect(lines[0]).toBe('{"id":1000000000000,"SageMakerOutput":[2.0,-0.5]}');
    expect(lines[29]).toBe('{"id":30000000000000,"SageMakerOutput":[60.0,-15.0]}');
    expect(split.summary).toMatchObject({
      status: 'Succeeded',
      inputs: [{ key: 'table.parquet', records: ROWS, errors: 0, output: 'results/split/table.parquet.out' }],
      records: { in: ROWS, out: ROWS, errors: 0 },
    });
  });

  it('quarantines a bad row of a later part by its number in the file and its row group, keeping its neighbours', async () => {
    // Prepare: row 23 (row group 4, in the third part) has no features.
    const bytes = table([23]);
    // Act
    const whole = await score('whole', bytes);
    const split = await score('split', bytes, twoRowGroups(bytes));
    // Assess
    expect(split.outcome.status).toBe('SUCCEEDED');
    expect(split.shards).toEqual([0, 1, 2]);
    expect(split.output).toBe(whole.output);
    const lines = split.output?.split('\n').filter(Boolean) ?? [];
    expect(lines).toHaveLength(ROWS - 1);
    expect(lines.slice(20, 23)).toEqual([
      '{"id":21000000000000,"SageMakerOutput":[42.0,-10.5]}',
      '{"id":22000000000000,"SageMakerOutput":[44.0,-11.0]}',
      '{"id":24000000000000,"SageMakerOutput":[48.0,-12.0]}',
    ]);
    expect(split.errors).toEqual(whole.errors);
    expect(split.errors).toEqual([
      expect.objectContaining({ input: 'table.parquet', record: 23, rowGroup: 4, raw: '{"features":null}' }),
    ]);
    expect(split.summary).toMatchObject({ records: { in: ROWS, out: ROWS - 1, errors: 1 } });
  });

  it('quarantines a row of a later part that the output filter does not match, by its number in the file', async () => {
    // Prepare: row 27 (row group 5, in the third part) has no tag for the output filter to take.
    const bytes = table([], [27]);
    const spec = { ...job, dataProcessing: { ...job.dataProcessing, outputFilter: '$.tag[0]' } };
    // Act
    const whole = await score('whole', bytes, undefined, spec);
    const split = await score('split', bytes, twoRowGroups(bytes), spec);
    // Assess
    expect(split.outcome.status).toBe('SUCCEEDED');
    expect(split.output).toBe(whole.output);
    expect(split.output?.split('\n').slice(24, 28)).toEqual(['25', '26', '28', '29']);
    expect(split.errors).toEqual(whole.errors);
    expect(split.errors).toEqual([expect.objectContaining({ input: 'table.parquet', record: 27 })]);
  });

  it('fails the job naming the file and the row group when a row group of the middle part is damaged', async () => {
    // Prepare: row group 3's first page overwritten.
    const bytes = table();
    const bound = twoRowGroups(bytes);
    const page = Number(parquetMetadata(bytes).row_groups[3]?.columns[1]?.meta_data?.data_page_offset);
    const damaged = Buffer.from(bytes).fill(0xff, page, page + 24);
    // Act
    const split = await score('damaged', damaged, bound);
    // Assess
    expect(split.outcome).toMatchObject({
      status: 'FAILED',
      error: {
        name: 'ParquetReadError',
        message: expect.stringMatching(/^table\.parquet: row group 3 cannot be read \(rows 16-20\)/),
      },
    });
    expect(split.output).toBeUndefined();
  });
});

describe('a Parquet file at most the bound', () => {
  it('is read whole by one Shard invocation', async () => {
    const bytes = table();
    const split = await score('small', bytes, bytes.length);
    expect(split.outcome.status).toBe('SUCCEEDED');
    expect(split.shards).toEqual([0]);
  });
});
