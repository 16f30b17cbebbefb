import { readFile } from 'node:fs/promises';
import {
  Binary,
  Bool,
  DateDay,
  Field,
  FixedSizeBinary,
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Map_,
  Struct,
  Table,
  TimeMicrosecond,
  TimeMillisecond,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import type { InputFile } from '../../../src/core/io.ts';
import { describeParquet, type ParquetReading, parquetRows } from '../../../src/core/records/parquet.ts';
import {
  decimalVector,
  int64Vector,
  type ParquetWriting,
  parquetFile,
  parquetInput,
} from '../../support/parquet.ts';

interface Row {
  readonly json: string;
  readonly record: number;
  readonly rowGroup: number;
}

async function readRows(file: InputFile, reading: Partial<ParquetReading> = {}): Promise<Row[]> {
  const rows: Row[] = [];
  const { records: source } = await parquetRows(file, { input: 'people.parquet', ...reading });
  for await (const _ of source({
    onRecord: (data, record, rowGroup) => rows.push({ json: data.toString(), record, rowGroup }),
    onBadRecord: () => expect.unreachable('a Parquet row is never a bad record'),
    onSkipped: () => expect.unreachable('a Parquet row is never skipped'),
  }));
  return rows;
}

const nullable = (name: string, type: ConstructorParameters<typeof Field>[1]) => new Field(name, type, true);

/** One column of each physical and common logical type, three rows: typical values, edge values, nulls. */
function everyType(): Table {
  return new Table({
    bool: vectorFromArray([true, false, null], new Bool()),
    int8: vectorFromArray([-128, 127, null], new Int8()),
    int16: vectorFromArray([-32768, 32767, null], new Int16()),
    int32: vectorFromArray([-2147483648, 2147483647, null], new Int32()),
    uint32: vectorFromArray([4294967295, 0, null], new Uint32()),
    int64: int64Vector(new Int64(), [9007199254740993n, -9223372036854775808n, null]),
    uint64: vectorFromArray([18446744073709551615n, 0n, null], new Uint64()),
    float: vectorFromArray([0.1, -1.5, Number.NaN], new Float32()),
    double: vectorFromArray([0.1, 1e300, Number.POSITIVE_INFINITY], new Float64()),
    half: vectorFromArray([0.5, -2, null], new Float16()),
    text: vectorFromArray(['héllo', 'a line\nbreak and "quotes"', null], new Utf8()),
    bytes: vectorFromArray([Uint8Array.of(0, 255), new Uint8Array(0), null], new Binary()),
    fixed: vectorFromArray(
      [Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6, 7, 8), null],
      new FixedSizeBinary(4),
    ),
    price: decimalVector(2, 9, [1990n, -5n, null]),
    huge: decimalVector(4, 38, [12345678901234567890123456789012345678n, -1n, null]),
    day: vectorFromArray([new Date('2024-01-31'), new Date('1969-12-31'), null], new DateDay()),
    ms: vectorFromArray([Date.parse('2024-01-31T12:34:56.789Z'), 0, null], new TimestampMillisecond('UTC')),
    us: int64Vector(new TimestampMicrosecond(), [1706704496123456n, -1n, null]),
    ns: int64Vector(new TimestampNanosecond('UTC'), [1706704496123456789n, 1n, null]),
    clock: vectorFromArray([45296789, 0, null], new TimeMillisecond()),
    fine: int64Vector(new TimeMicrosecond(), [45296789012n, 1n, null]),
    list: vectorFromArray([[1, 2], [], null], new List(nullable('item', new Int32()))),
    point: vectorFromArray(
      [{ x: 1.5, tags: ['a', 'b'] }, { x: null, tags: [] }, null],
      new Struct([nullable('x', new Float64()), nullable('tags', new List(nullable('item', new Utf8())))]),
    ),
    counts: vectorFromArray(
      [
        new Map([
          ['a', 1n],
          ['b', 2n],
        ]),
        new Map(),
        null,
      ],
      new Map_<Utf8, Int64>(
        new Field(
          'entries',
          new Struct<{ key: Utf8; value: Int64 }>([
            new Field('key', new Utf8()),
            new Field('value', new Int64(), true),
          ]),
        ),
      ),
    ),
  });
}

const EVERY_TYPE_ROWS = [
  '{"bool":true,"int8":-128,"int16":-32768,"int32":-2147483648,"uint32":4294967295,"int64":9007199254740993,' +
    '"uint64":18446744073709551615,"float":0.1,"double":0.1,"half":0.5,"text":"héllo","bytes":{"b64":"AP8="},' +
    '"fixed":{"b64":"AQIDBA=="},"price":19.90,"huge":1234567890123456789012345678901234.5678,"day":"2024-01-31",' +
    '"ms":"2024-01-31T12:34:56.789Z","us":"2024-01-31T12:34:56.123456Z","ns":"2024-01-31T12:34:56.123456789Z",' +
    '"clock":"12:34:56.789","fine":"12:34:56.789012","list":[1,2],"point":{"x":1.5,"tags":["a","b"]},' +
    '"counts":{"a":1,"b":2}}',
  '{"bool":false,"int8":127,"int16":32767,"int32":2147483647,"uint32":0,"int64":-9223372036854775808,' +
    '"uint64":0,"float":-1.5,"double":1e+300,"half":-2,"text":"a line\\nbreak and \\"quotes\\"","bytes":{"b64":""},' +
    '"fixed":{"b64":"BQYHCA=="},"price":-0.05,"huge":-0.0001,"day":"1969-12-31","ms":"1970-01-01T00:00:00.000Z",' +
    '"us":"1969-12-31T23:59:59.999999Z","ns":"1970-01-01T00:00:00.000000001Z","clock":"00:00:00.000",' +
    '"fine":"00:00:00.000001","list":[],"point":{"x":null,"tags":[]},"counts":{}}',
  // NaN and the infinities, which JSON lacks, are null like the other columns' nulls.
  '{"bool":null,"int8":null,"int16":null,"int32":null,"uint32":null,"int64":null,"uint64":null,"float":null,' +
    '"double":null,"half":null,"text":null,"bytes":null,"fixed":null,"price":null,"huge":null,"day":null,' +
    '"ms":null,"us":null,"ns":null,"clock":null,"fine":null,"list":null,"point":null,"counts":null}',
];

describe('Parquet records', () => {
  const writings: [string, ParquetWriting][] = [
    ['snappy, dictionary pages', { compression: 'snappy' }],
    ['gzip, plain pages', { compression: 'gzip', dictionary: false }],
    ['zstd, data pages v2', { compression: 'zstd', dataPageV2: true }],
    ['brotli, dictionary pages v2', { compression: 'brotli', dataPageV2: true }],
    ['lz4 (Hadoop framing), plain pages', { compression: 'lz4', dictionary: false }],
    ['lz4_raw, dictionary pages v2', { compression: 'lz4-raw', dataPageV2: true }],
    ['uncompressed, plain pages v2', { compression: 'none', dictionary: false, dataPageV2: true }],
  ];
  it.each(writings)('reads every type as the JSON a user expects (%s)', async (_, writing) => {
    const rows = await readRows(parquetInput(parquetFile(everyType(), writing)));

    expect(rows.map((row) => row.json)).toEqual(EVERY_TYPE_ROWS);
    for (const row of rows) expect(() => JSON.parse(row.json)).not.toThrow();
    expect(rows.map((row) => row.record)).toEqual([1, 2, 3]);
  });

  it('describes the schema from the footer alone', async () => {
    const file = parquetInput(parquetFile(everyType(), { rowGroupRows: 2 }));

    const description = await describeParquet(file, 'people.parquet');

    expect(description).toMatchObject({ rows: 3, rowGroups: 2 });
    expect(Object.fromEntries(description.columns.map(({ name, type }) => [name, type]))).toMatchObject({
      int64: 'int64',
      uint32: 'uint32',
      price: 'decimal(9, 2)',
      ns: 'timestamp(ns, UTC)',
      us: 'timestamp(us)',
      text: 'string',
      bytes: 'binary',
      list: 'list<int32>',
      point: 'struct<x: double, tags: list<string>>',
      counts: 'map<string, int64>',
    });
    expect(file.ranges).toHaveLength(1);
    expect(file.ranges[0]?.end).toBe(file.size);
  });

  it('reads Spark INT96 timestamps to the nanosecond, nulls as null', async () => {
    // Written by Spark 3.4.3 (parquet-mr 1.13.1), from the Apache parquet-testing files; its
    // description gives the values as microseconds since the epoch.
    const bytes = await readFile(new URL('./fixtures/int96_from_spark.parquet', import.meta.url));

    const rows = await readRows(parquetInput(bytes));

    // Its sixth value, of the year 290000, overflowed Spark's 64-bit arithmetic as it was written.
    expect(rows.map((row) => row.json).slice(0, 5)).toEqual([
      '{"a":"2024-01-01T20:34:56.123456000Z"}',
      '{"a":"2024-01-01T01:00:00.000000000Z"}',
      '{"a":"9999-12-31T03:00:00.000000000Z"}',
      '{"a":"2024-12-30T23:00:00.000000000Z"}',
      '{"a":null}',
    ]);
  });

  it('reads several row groups in order, numbering rows from 1 across them, one row group at a time', async () => {
    const ids = Array.from({ length: 10 }, (_, k) => k);
    const bytes = parquetFile(new Table({ id: vectorFromArray(ids, new Int32()) }), { rowGroupRows: 4 });
    const file = parquetInput(bytes);
    const groupStarts = parquetMetadata(bytes).row_groups.map((group) =>
      Number(
        group.columns[0]?.meta_data?.dictionary_page_offset ?? group.columns[0]?.meta_data?.data_page_offset,
      ),
    );
    const readBeforeGroup: number[] = [];
    const rows: Row[] = [];

    const { records } = await parquetRows(file, { input: 'ids.parquet' });
    for await (const _ of records({
      onRecord: (data, record, rowGroup) => {
        // The footer is read first (the file's last bytes, as many as may hold it), the row groups after.
        if (rows.at(-1)?.rowGroup !== rowGroup) {
          readBeforeGroup.push(Math.max(...file.ranges.slice(1).map((range) => range.end)));
        }
        rows.push({ json: data.toString(), record, rowGroup });
      },
      onBadRecord: () => undefined,
      onSkipped: () => undefined,
    }));

    expect(rows.map((row) => row.json)).toEqual(ids.map((id) => `{"id":${id}}`));
    expect(rows.map((row) => row.record)).toEqual(ids.map((id) => id + 1));
    expect(rows.map((row) => row.rowGroup)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
    // When the first row of group 1 is handed over, nothing of group 2 has been read.
    expect(readBeforeGroup[1]).toBeLessThanOrEqual(groupStarts[2] as number);
  });

  it('reads a part of the row groups, its rows numbered as in the whole file', async () => {
    const ids = Array.from({ length: 10 }, (_, k) => k);
    const file = parquetInput(
      parquetFile(new Table({ id: vectorFromArray(ids, new Int32()) }), { rowGroupRows: 4 }),
    );

    const rows = await readRows(file, { rowGroups: { first: 1, end: 2 } });

    expect(rows).toEqual([4, 5, 6, 7].map((id) => ({ json: `{"id":${id}}`, record: id + 1, rowGroup: 1 })));
  });

  it('says where a part starts, and refuses row groups the file does not have', async () => {
    const ids = Array.from({ length: 10 }, (_, k) => k);
    const bytes = parquetFile(new Table({ id: vectorFromArray(ids, new Int32()) }), { rowGroupRows: 4 });

    const part = await parquetRows(parquetInput(bytes), {
      input: 'ids.parquet',
      rowGroups: { first: 2, end: 3 },
    });

    expect(part.firstRecord).toBe(9);
    // A part's rows are read from its row groups' bytes alone, after the footer.
    const file = parquetInput(bytes);
    expect(await readRows(file, { rowGroups: { first: 1, end: 2 } })).toHaveLength(4);
    const chunk = parquetMetadata(bytes).row_groups[1]?.columns[0]?.meta_data;
    const start = Number(chunk?.dictionary_page_offset ?? chunk?.data_page_offset);
    const end = start + Number(chunk?.total_compressed_size);
    expect(file.ranges.slice(1).length).toBeGreaterThan(0);
    for (const range of file.ranges.slice(1)) {
      expect(range.start).toBeGreaterThanOrEqual(start);
      expect(range.end).toBeLessThanOrEqual(end);
    }
    await expect(
      parquetRows(parquetInput(bytes), { input: 'ids.parquet', rowGroups: { first: 2, end: 4 } }),
    ).rejects.toMatchObject({
      name: 'ParquetReadError',
      message: 'ids.parquet: has 3 row groups, not row groups 2 to 3: was it replaced while the job ran?',
    });
  });

  it('reads from storage only the columns asked for', async () => {
    const columns = Object.fromEntries(
      Array.from({ length: 20 }, (_, c) => [
        `f${c}`,
        vectorFromArray(
          Array.from({ length: 5000 }, (_, k) => k * 1.25 + c),
          new Float64(),
        ),
      ]),
    );
    const bytes = parquetFile(new Table(columns), { dictionary: false, compression: 'none' });
    const all = parquetInput(bytes);
    const some = parquetInput(bytes);

    const everything = await readRows(all);
    const selected = await readRows(some, { columns: ['f3', 'f7', 'absent'] });

    expect(selected.map((row) => row.json)).toEqual(
      everything.map((row) => {
        const { f3, f7 } = JSON.parse(row.json) as Record<string, number>;
        return JSON.stringify({ f3, f7 });
      }),
    );
    // After the footer, which is read first.
    const bytesRead = (file: typeof all) => file.ranges.slice(1).reduce((sum, r) => sum + r.end - r.start, 0);
    expect(bytesRead(some)).toBeLessThan(bytesRead(all) / 5);
  });

  it('fails naming the file when it is not Parquet', async () => {
    const file = parquetInput(Buffer.from('{"id":1}\n{"id":2}\n'));

    await expect(readRows(file)).rejects.toMatchObject({
      name: 'ParquetReadError',
      message: expect.stringMatching(/^people\.parquet: not a readable Parquet file/),
    });
  });

  it('fails naming the file and the row group whose pages are damaged', async () => {
    const ids = Array.from({ length: 30 }, (_, k) => `name ${k}`);
    const bytes = parquetFile(new Table({ name: vectorFromArray(ids, new Utf8()) }), {
      rowGroupRows: 10,
      dictionary: false,
    });
    const damaged = Buffer.from(bytes);
    const column = parquetMetadata(bytes).row_groups[1]?.columns[0]?.meta_data;
    const pageStart = Number(column?.data_page_offset);
    damaged.fill(0xff, pageStart, pageStart + 24);

    const rows: string[] = [];
    const { records } = await parquetRows(parquetInput(damaged), { input: 'people.parquet' });
    const reading = records({
      onRecord: (data) => rows.push(data.toString()),
      onBadRecord: () => undefined,
      onSkipped: () => undefined,
    });
    await expect(async () => {
      for await (const _ of reading);
    }).rejects.toMatchObject({
      name: 'ParquetReadError',
      rowGroup: 1,
      message: expect.stringMatching(/^people\.parquet: row group 1 cannot be read \(rows 11-20\)/),
    });
    expect(rows).toHaveLength(10);
  });
});
