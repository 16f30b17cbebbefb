import { Field, Float64, Int32, List, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { encodeExample } from '../../../src/core/records/example.ts';
import { encodeRecordIo } from '../../../src/core/records/recordio.ts';
import { encodeTfRecords } from '../../../src/core/records/tfrecord.ts';
import { readerFor, shardFile } from '../../../src/core/shard/sharder.ts';
import { shardThreads } from '../../../src/core/shard/threads.ts';
import { jsonLines, MemoryObjects } from '../../support/memory.ts';
import { parquetFile, parquetInput } from '../../support/parquet.ts';
import { RecordingObjects } from '../../support/recording.ts';
import { chunksOf, collector } from '../../support/records.ts';
import {
  ERRORS,
  type ErrorRowSeen,
  expectedShards,
  failingSource,
  linesOf,
  shardInto,
  shardName,
  shardOptions,
  shardToMemory,
} from '../../support/shards.ts';

const text = (shards: Buffer[]): string[] => shards.map((shard) => shard.toString('utf8'));

describe('shardInput', () => {
  it('closes each shard at the first record boundary at or after shardBytes', async () => {
    // Prepare: records of growing size, read in chunks that cut them anywhere.
    const lines = Array.from({ length: 40 }, (_, k) =>
      JSON.stringify({ id: k, f: Array.from({ length: k % 9 }, (_, n) => n / 4) }),
    );
    // Act
    const { index, shards } = await shardToMemory(
      Buffer.from(linesOf(...lines)),
      { splitType: 'Line', decoding: 'json', shardBytes: 120 },
      [13, 50],
    );
    // Assess
    const expected = expectedShards(lines, 120);
    expect(text(shards)).toEqual(expected.texts);
    expect(index.shards).toEqual(expected.entries);
    expect(index.records).toEqual({ in: 40, skipped: 0, errors: 0, sent: 40 });
  });

  it('writes the input filter selection of each JSON line as one instance line', async () => {
    const input = '{"id":1,"features":[1, 2.5]}\r\n{"features":{"a": [3]},"id":2}\n{"id":3,"features":"x"}';

    const { index, shards } = await shardToMemory(Buffer.from(input), {
      splitType: 'Line',
      decoding: 'json',
      inputFilter: '$.features',
    });

    expect(text(shards)).toEqual([linesOf('[1, 2.5]', '{"a": [3]}', '"x"')]);
    expect(index.format).toBe('instances');
  });

  it('wraps each instance in a request of its own with requestPerLine', async () => {
    const input = linesOf('[1, 2]', '{"a":1}', '3');

    const { shards } = await shardToMemory(Buffer.from(input), {
      splitType: 'Line',
      decoding: 'json',
      requestPerLine: true,
    });

    expect(text(shards)).toEqual([
      linesOf('{"instances":[[1, 2]]}', '{"instances":[{"a":1}]}', '{"instances":[3]}'),
    ]);
  });

  it('quarantines bad lines as _errors.jsonl rows, counted in the index', async () => {
    // Prepare: an empty line, a line cut short, invalid UTF-8, a CRLF empty line, and a filter miss.
    const input = Buffer.concat([
      Buffer.from('{"a":1}\n\n{"a":\n'),
      Buffer.from([0x22, 0xff, 0x22, 0x0a]),
      Buffer.from('\r\n{"b":2}\n{"a":[3]}'),
    ]);
    // Act
    const { index, shards, errors } = await shardToMemory(
      input,
      { splitType: 'Line', decoding: 'json', inputFilter: '$.a' },
      [3],
    );
    // Assess
    expect(text(shards)).toEqual([linesOf('1', '[3]')]);
    expect(errors).toEqual([
      { input: 'in', record: 2, line: 3, reason: 'invalid JSON at column 6', raw: '{"a":', size: 5 },
      { input: 'in', record: 3, line: 4, reason: 'invalid UTF-8', raw: '"\uFFFD"', size: 3 },
      { input: 'in', record: 4, line: 6, reason: "$.a: no member 'a'", raw: '{"b":2}', size: 7 },
    ] satisfies ErrorRowSeen[]);
    expect(index.records).toEqual({ in: 5, skipped: 2, errors: 3, sent: 2 });
    expect(index.quarantined).toEqual([2, 3, 4]);
    expect(index.shards).toEqual([{ shard: 0, firstRecord: 1, records: 2, bytes: 6 }]);
  });

  it('names a bad binary record by its byte offset, its bytes in base64', async () => {
    const input = encodeTfRecords([
      encodeExample({ x: { floats: [1, 2] } }),
      Buffer.from('nope'),
      encodeExample({ x: { floats: [3] } }),
    ]);

    const { index, shards, errors } = await shardToMemory(
      input,
      { splitType: 'TFRecord', decoding: 'tf-example', inputFilter: '$.x' },
      [5],
    );

    expect(text(shards)).toEqual([linesOf('[1,2]', '[3]')]);
    expect(errors).toEqual([
      {
        input: 'in',
        record: 2,
        offset: 37,
        reason: expect.stringMatching(/^malformed tf\.Example/),
        raw: Buffer.from('nope').toString('base64'),
        rawEncoding: 'base64',
        size: 4,
      },
    ]);
    expect(index.quarantined).toEqual([2]);
  });

  it.each([
    ['as read', false, `[${'7,'.repeat(10)}7]`, 'record is 23 bytes, over'],
    ['once encoded', true, `[${'7,'.repeat(5)}7]`, 'record is 30 bytes once encoded, over'],
  ])(
    'quarantines a record over maxRecordBytes %s and keeps its neighbours',
    async (_, perLine, line, reason) => {
      const { index, shards, errors } = await shardToMemory(
        Buffer.from(linesOf('[1]', line, '[2]')),
        { splitType: 'Line', decoding: 'json', requestPerLine: perLine, maxRecordBytes: 22 },
        [4],
      );

      const kept = perLine ? ['{"instances":[[1]]}', '{"instances":[[2]]}'] : ['[1]', '[2]'];
      expect(text(shards)).toEqual([linesOf(...kept)]);
      expect(errors).toEqual([
        {
          input: 'in',
          record: 2,
          line: 2,
          reason: `${reason} the request limit of 22 bytes (maxPayloadInMB)`,
          raw: line,
          size: line.length,
        },
      ] satisfies ErrorRowSeen[]);
      expect(index.records).toEqual({ in: 3, skipped: 0, errors: 1, sent: 2 });
    },
  );

  it.each([
    ['TFRecord', encodeTfRecords],
    ['RecordIO', encodeRecordIo],
  ] as const)('keeps the %s framing of records that are not decoded', async (splitType, encode) => {
    const payloads = ['one', 'two', 'three', 'four', 'five'].map((word) => Buffer.from(word));
    const framed = encode(payloads.slice(0, 2)).length;

    const { index, shards } = await shardToMemory(
      encode(payloads),
      { splitType, decoding: 'none', shardBytes: framed },
      [3],
    );

    expect(shards).toEqual([
      encode(payloads.slice(0, 2)),
      encode(payloads.slice(2, 4)),
      encode(payloads.slice(4)),
    ]);
    expect(index.format).toBe('original');
    expect(index.shards.map((entry) => [entry.firstRecord, entry.records])).toEqual([
      [1, 2],
      [3, 2],
      [5, 1],
    ]);
  });

  it('writes the same shards, errors and index with worker threads as without', async () => {
    // Prepare: a few megabytes of CSV, so that several blocks go to the workers, some rows bad.
    const rows = Array.from({ length: 120_000 }, (_, k) =>
      k % 5003 === 4000 ? `${k},a"b` : `${k},${k / 8},"name, ${k}"`,
    );
    const input = Buffer.from(`${rows.join('\r\n')}\r\n`);
    const settings = {
      splitType: 'Line',
      decoding: 'csv',
      inputFilter: '$[0:2]',
      requestPerLine: true,
      shardBytes: 400_000,
    } as const;
    // Act
    const inline = await shardToMemory(input, settings, [100_000]);
    const threaded = await shardToMemory(input, { ...settings, workers: shardThreads(2) }, [100_000]);
    // Assess
    expect(text(threaded.shards)).toEqual(text(inline.shards));
    expect(threaded.errors).toEqual(inline.errors);
    expect(threaded.index).toEqual(inline.index);
    expect(inline.index.records).toEqual({ in: 120_000, skipped: 0, errors: 24, sent: 119_976 });
    expect(inline.shards.length).toBeGreaterThan(4);
    expect(inline.shards[0]?.toString().split('\n')[1]).toBe('{"instances":[[1,0.125]]}');
  });

  it('aborts the shard being written and the errors when the source fails midway', async () => {
    // Prepare: records enough for one closed shard and a second one under way when the source fails.
    const lines = Array.from({ length: 200_000 }, (_, k) => JSON.stringify({ id: k, f: [k, k / 2] }));
    const input = Buffer.from(`${lines.join('\n')}\n`);
    const objects = new RecordingObjects();
    // Act
    const sharding = shardInto(objects, failingSource(input, 4_200_000, 300_000), {
      splitType: 'Line',
      decoding: 'json',
      shardBytes: 1_300_000,
    });
    // Assess
    await expect(sharding).rejects.toThrow('connection reset by peer');
    expect(objects.ended(shardName(0))).toEqual(['closed']);
    expect(objects.text(shardName(0)).endsWith('\n')).toBe(true);
    expect(objects.ended(shardName(1))).toEqual(['aborted']);
    expect(objects.objects.has(shardName(1))).toBe(false);
    expect(objects.ended(ERRORS)).toEqual(['aborted']);
  });
});

describe('shardFile', () => {
  const people = () =>
    new Table({
      id: vectorFromArray([1, 2, 3, 4, 5], new Int32()),
      name: vectorFromArray(['ann', 'bob', null, 'dee', 'eve'], new Utf8()),
      features: vectorFromArray(
        [[1, 2], [3], null, [], [5, 6]],
        new List(new Field('item', new Float64(), true)),
      ),
    });
  const asJsonLines = linesOf(
    '{"id":1,"name":"ann","features":[1,2]}',
    '{"id":2,"name":"bob","features":[3]}',
    '{"id":3,"name":null,"features":null}',
    '{"id":4,"name":"dee","features":[]}',
    '{"id":5,"name":"eve","features":[5,6]}',
  );

  it.each([["$['features','id']"], ["$['name','absent']"], ["$['absent']"], ['$.features[0]'], ['$']])(
    "sends and quarantines a Parquet file's rows through %s as it does the same rows as JSON Lines",
    async (inputFilter) => {
      const objects = new MemoryObjects();
      const settings = shardOptions({
        splitType: 'Line',
        decoding: 'parquet',
        inputFilter,
        workers: shardThreads(2),
      });
      const targets = {
        openShard: (n: number) => objects.sink(shardName(n)),
        errors: await objects.sink(ERRORS),
      };

      const index = await shardFile(
        parquetInput(parquetFile(people(), { rowGroupRows: 2 })),
        settings,
        targets,
      );
      const json = await shardToMemory(Buffer.from(asJsonLines), {
        splitType: 'Line',
        decoding: 'json',
        inputFilter,
      });

      expect(index.records).toEqual(json.index.records);
      expect(index.quarantined).toEqual(json.index.quarantined);
      expect(index.shards.map((entry) => objects.text(shardName(entry.shard)))).toEqual(text(json.shards));
      const errors = jsonLines(objects.text(ERRORS)) as ErrorRowSeen[];
      expect(errors.map(({ record, reason }) => ({ record, reason }))).toEqual(
        json.errors.map(({ record, reason }) => ({ record, reason })),
      );
      expect(errors.map((error) => error.rowGroup)).toEqual(
        errors.map((error) => Math.floor((error.record - 1) / 2)),
      );
    },
  );
});

describe('readerFor', () => {
  it.each([
    ['Line', 'json', Buffer.from('{"a":1}\r\n\n[2]'), ['{"a":1}', '[2]']],
    ['Line', 'csv', Buffer.from('x,y\n1,"a\nb"\n2,c\n'), ['1,"a\nb"', '2,c']],
    ['Line', 'none', Buffer.from('a b\n\nc'), ['a b', 'c']],
    ['TFRecord', 'none', encodeTfRecords([Buffer.from('one'), Buffer.from('two')]), ['one', 'two']],
    ['RecordIO', 'none', encodeRecordIo([Buffer.from('one'), Buffer.from('two')]), ['one', 'two']],
    ['None', 'json', Buffer.from('{\n  "a": 1\n}\n'), ['{\n  "a": 1\n}\n']],
  ] as const)('frames %s input (%s) as the Shard step does', (splitType, decoding, input, expected) => {
    const { handler, seen } = collector();
    const reader = readerFor(shardOptions({ splitType, decoding, csvHeader: decoding === 'csv' }), handler);

    for (const chunk of chunksOf(input, [3])) reader.push(chunk);
    reader.end();

    expect(seen.records.map((r) => [r.record, r.data.toString('utf8')])).toEqual(
      expected.map((data, k) => [k + 1, data]),
    );
    expect(seen.bad).toEqual([]);
  });
});
