import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileJsonPath, type JsonPath } from '../../../src/core/json/path.ts';
import { mergeInput } from '../../../src/core/merge/merger.ts';
import { csvInstance } from '../../../src/core/records/csv-instances.ts';
import { encodeExample } from '../../../src/core/records/example.ts';
import { createLineReader } from '../../../src/core/records/line.ts';
import { createRecordIoReader, encodeRecordIo } from '../../../src/core/records/recordio.ts';
import { createTfRecordReader, encodeTfRecords } from '../../../src/core/records/tfrecord.ts';
import { framedRecords, type ReaderFactory, type RecordSource } from '../../../src/core/records/types.ts';
import { type ShardIndex, type ShardOptions, shardInput } from '../../../src/core/shard/sharder.ts';
import { shardThreads } from '../../../src/core/shard/threads.ts';
import { echoTransform } from '../../support/echo-transform.ts';
import { chunks, jsonLines, MemoryObjects } from '../../support/memory.ts';

// Prepare: one input, sharded, scored by an echo model, merged. These properties say that for every
// framing, splitting then merging gives back the records in input order, and that every record read
// ends up either in the output or in the errors, exactly once.

const shardName = (shard: number): string => `work/shard-${shard}`;

interface Run {
  index: ShardIndex;
  out: unknown[];
  outText: string;
  errors: { record: number; line?: number; offset?: number; reason: string }[];
}

async function run(
  input: Buffer,
  options: Omit<ShardOptions, 'input'>,
  transform: {
    chunkSizes: number[];
    batch: number;
    pretty?: boolean;
    splitOriginal?: (shard: Buffer) => Buffer[];
  },
  merge: {
    joinSource?: 'None' | 'Input';
    outputFilter?: JsonPath;
    inputRecords?: (source: AsyncIterable<Buffer>) => RecordSource;
    csvInput?: boolean;
  } = {},
): Promise<Run> {
  const objects = new MemoryObjects();
  objects.objects.set('inbox/input', input);
  const index = await shardInput(
    objects.source('inbox/input', transform.chunkSizes),
    { input: 'inbox/input', ...options },
    {
      openShard: (shard) => objects.sink(shardName(shard)),
      errors: await objects.sink('work/shard-errors.jsonl'),
    },
  );
  echoTransform(objects, index, shardName, transform);
  const summary = await mergeInput(
    index,
    {
      shardOutput: (shard) => objects.source(`${shardName(shard)}.out`, transform.chunkSizes),
      ...(merge.inputRecords && {
        inputRecords: merge.inputRecords(objects.source('inbox/input', transform.chunkSizes)),
      }),
    },
    { tfsMethod: 'predict', joinSource: merge.joinSource ?? 'None', ...merge },
    { out: await objects.sink('results/input.out'), errors: await objects.sink('work/merge-errors.jsonl') },
  );
  const errors = [
    ...jsonLines(objects.text('work/shard-errors.jsonl')),
    ...jsonLines(objects.text('work/merge-errors.jsonl')),
  ] as Run['errors'];
  const outText = objects.text('results/input.out');
  // Assess: the counts reconcile, and no record is both in the output and in the errors.
  expect(summary.out + summary.errors).toBe(summary.records);
  expect(summary.errors).toBe(errors.length);
  expect(new Set(errors.map((row) => row.record)).size).toBe(errors.length);
  return {
    index,
    out:
      options.splitType === 'Line' && options.decoding === 'csv' && merge.csvInput ? [] : jsonLines(outText),
    outText,
    errors,
  };
}

const lineEnding = fc.constantFrom('\n', '\r\n');
const chunkSizes = fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 });
const shardBytes = fc.integer({ min: 1, max: 400 });
const batch = fc.integer({ min: 1, max: 7 });
const base = { maxRecordBytes: 1 << 20, requestPerLine: false } as const;

describe('split then merge', () => {
  it('gives back JSON Lines records in order, with bad lines quarantined by line number', async () => {
    const line = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .jsonValue()
          .map((value) => ({ good: true as const, value, text: JSON.stringify(value) })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom('{bad', '[1,', 'nul', '{"a":1}}')
          .map((text) => ({ good: false as const, text })),
      },
      { weight: 1, arbitrary: fc.constant({ good: 'empty' as const, text: '' }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, lineEnding), { maxLength: 40 }),
        fc.boolean(),
        chunkSizes,
        shardBytes,
        batch,
        fc.boolean(),
        async (lines, finalNewline, sizes, bytes, requests, perLine) => {
          const text = lines
            .map(([l, end], k) => l.text + (k < lines.length - 1 || finalNewline ? end : ''))
            .join('');
          const result = await run(
            Buffer.from(text),
            { ...base, splitType: 'Line', decoding: 'json', shardBytes: bytes, requestPerLine: perLine },
            { chunkSizes: sizes, batch: requests, pretty: requests % 2 === 0 },
          );
          const expected = lines.flatMap(([l]) => (l.good === true ? [l.value] : []));
          expect(result.out).toEqual(expected.map((value) => JSON.parse(JSON.stringify(value))));
          const badLines = lines.flatMap(([l], k) => (l.good === false ? [k + 1] : []));
          expect(result.errors.map((row) => row.line)).toEqual(badLines);
          // An empty last line with no newline after it is no line at all.
          const emptyLines = lines.filter(
            ([l], k) => l.good === 'empty' && (k < lines.length - 1 || finalNewline),
          );
          expect(result.index.records.skipped).toBe(emptyLines.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('applies the input filter, joins the original record and applies the output filter', async () => {
    const row = fc.record(
      {
        id: fc.integer(),
        features: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 }),
      },
      { requiredKeys: ['id'] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 30 }),
        chunkSizes,
        shardBytes,
        batch,
        async (rows, sizes, bytes, requests) => {
          const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
          const result = await run(
            Buffer.from(text),
            { ...base, splitType: 'Line', decoding: 'json', inputFilter: '$.features', shardBytes: bytes },
            { chunkSizes: sizes, batch: requests },
            {
              joinSource: 'Input',
              outputFilter: compileJsonPath("$['id','SageMakerOutput']"),
              inputRecords: (source) => (handler) =>
                framedRecords(
                  source,
                  createLineReader(handler, { input: 'inbox/input', maxRecordBytes: 1 << 20, utf8: true }),
                ),
            },
          );
          const scored = rows.filter((r) => r.features !== undefined);
          expect(result.out).toEqual(
            scored.map((r) => JSON.parse(JSON.stringify({ id: r.id, SageMakerOutput: r.features }))),
          );
          const missing = rows.flatMap((r, k) => (r.features === undefined ? [k + 1] : []));
          expect(result.errors.map((e) => e.record)).toEqual(missing);
          expect(result.errors.every((e) => e.reason.includes('no member'))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives back CSV records (quoted fields, CRLF, multi-line quotes) as TFS instances, and joins them as CSV', async () => {
    const field = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc
        .string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', 'é', ' '), maxLength: 6 })
        .filter((f) => f.length > 0 && f.trim() === f),
    );
    const quote = (f: string): string => (/[",\n\r]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { maxLength: 25 }),
        lineEnding,
        chunkSizes,
        shardBytes,
        batch,
        async (rows, end, sizes, bytes, requests) => {
          const text = rows.map((fields) => fields.map(quote).join(',') + end).join('');
          const result = await run(
            Buffer.from(text),
            { ...base, splitType: 'Line', decoding: 'csv', shardBytes: bytes },
            { chunkSizes: sizes, batch: requests },
          );
          expect(result.out).toEqual(rows.map((fields) => JSON.parse(csvInstance(fields))));
          expect(result.errors).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps TFRecord and RecordIO records byte for byte when they pass through untouched', async () => {
    const payloads = fc.array(
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      { maxLength: 30 },
    );
    for (const [splitType, encode, reader] of [
      ['TFRecord', encodeTfRecords, createTfRecordReader],
      ['RecordIO', encodeRecordIo, createRecordIoReader],
    ] as const) {
      await fc.assert(
        fc.asyncProperty(payloads, chunkSizes, shardBytes, async (records, sizes, bytes) => {
          const result = await run(
            encode(records),
            { ...base, splitType, decoding: 'none', shardBytes: bytes },
            { chunkSizes: sizes, batch: 1, splitOriginal: (shard) => collect(reader, shard) },
          );
          expect(result.index.format).toBe('original');
          expect(result.out).toEqual(records.map((record) => record.toString('base64')));
        }),
        { numRuns: 60 },
      );
    }
  });

  it('takes a whole object as one record with SplitType None, JSON validated, anything else untouched', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), chunkSizes, async (value, sizes) => {
        const text = JSON.stringify(value, null, 2);
        const result = await run(
          Buffer.from(text),
          { ...base, splitType: 'None', decoding: 'json', shardBytes: 1 },
          { chunkSizes: sizes, batch: 1 },
        );
        expect(result.out).toEqual([JSON.parse(text)]);
      }),
      { numRuns: 50 },
    );
    const binary = Buffer.from([0, 1, 2, 255, 10, 13]);
    const passed = await run(
      binary,
      { ...base, splitType: 'None', decoding: 'none', shardBytes: 1 },
      { chunkSizes: [2], batch: 1, splitOriginal: (shard) => [shard] },
    );
    expect(passed.out).toEqual([binary.toString('base64')]);
    const tooLarge = await run(
      Buffer.alloc(100, 0x20),
      { ...base, splitType: 'None', decoding: 'none', shardBytes: 1, maxRecordBytes: 64 },
      { chunkSizes: [7], batch: 1 },
    );
    expect(tooLarge.errors.map((e) => e.reason)).toEqual([
      'record is 100 bytes, over the request limit of 64 bytes (maxPayloadInMB)',
    ]);
  });

  it('decodes tf.Example records and filters them like JSON', async () => {
    const example = fc.record({
      label: fc.integer({ min: -5, max: 5 }),
      x: fc.array(fc.integer({ min: -100, max: 100 }), { maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(example, { maxLength: 20 }),
        chunkSizes,
        shardBytes,
        batch,
        async (examples, sizes, bytes, requests) => {
          const input = encodeTfRecords(
            examples.map((e) => encodeExample({ label: { ints: [e.label] }, x: { floats: e.x } })),
          );
          const result = await run(
            input,
            { ...base, splitType: 'TFRecord', decoding: 'tf-example', inputFilter: '$.x', shardBytes: bytes },
            { chunkSizes: sizes, batch: requests },
          );
          expect(result.out).toEqual(examples.map((e) => e.x));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('bad input', () => {
  const options = { ...base, shardBytes: 1 << 20 };
  const shardOnly = async (
    input: Buffer,
    shard: Omit<ShardOptions, 'input' | 'maxRecordBytes' | 'requestPerLine' | 'shardBytes'>,
    maxRecordBytes = base.maxRecordBytes,
  ) => {
    const objects = new MemoryObjects();
    const index = await shardInput(
      chunks(input, [7]),
      { ...options, input: 'in', maxRecordBytes, ...shard },
      {
        openShard: (n) => objects.sink(shardName(n)),
        errors: await objects.sink('errors'),
      },
    );
    return { index, errors: jsonLines(objects.text('errors')) as Run['errors'] };
  };

  it('names a TFRecord CRC mismatch and a truncated tail by record and offset, keeping the rest', async () => {
    const input = encodeTfRecords([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
    const corrupted = 16 + 3 + 12; // first data byte of record 2
    input.writeUInt8(input.readUInt8(corrupted) ^ 0xff, corrupted);
    const { index, errors } = await shardOnly(input.subarray(0, input.length - 2), {
      splitType: 'TFRecord',
      decoding: 'none',
    });
    expect(errors.map((e) => [e.record, e.offset, e.reason.split(':')[0]])).toEqual([
      [2, 19, 'TFRecord data CRC mismatch'],
      [3, 38, 'truncated TFRecord'],
    ]);
    expect(index.records).toEqual({ in: 3, skipped: 0, errors: 2, sent: 1 });
  });

  it('names an unterminated CSV quote and invalid UTF-8 by line, keeping the neighbours', async () => {
    const input = Buffer.concat([
      Buffer.from('1,2\n"3,4\n5,6\n'),
      Buffer.from([0x37, 0xff, 0x0a]),
      Buffer.from('8,9\n'),
    ]);
    const { index, errors } = await shardOnly(input, { splitType: 'Line', decoding: 'csv' });
    expect(errors.map((e) => [e.line, e.reason])).toEqual([
      [2, 'unterminated quoted field'],
      [4, 'invalid UTF-8'],
    ]);
    expect(index.records.sent).toBe(3);
  });

  it('quarantines a record over maxPayloadInMB, naming its size and the limit', async () => {
    const input = Buffer.from(`[1]\n[${'1,'.repeat(100)}1]\n[2]\n`);
    const { index, errors } = await shardOnly(input, { splitType: 'Line', decoding: 'json' }, 100);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.line).toBe(2);
    expect(errors[0]?.reason).toBe(
      'record is 203 bytes, over the request limit of 100 bytes (maxPayloadInMB)',
    );
    expect(index.records.sent).toBe(2);
  });

  it('fails loudly when the model answers fewer outputs than records', async () => {
    const objects = new MemoryObjects();
    objects.objects.set('in', Buffer.from('1\n2\n3\n'));
    const index = await shardInput(
      objects.source('in'),
      { ...options, input: 'in', splitType: 'Line', decoding: 'json' },
      {
        openShard: (n) => objects.sink(shardName(n)),
        errors: await objects.sink('errors'),
      },
    );
    objects.objects.set(`${shardName(0)}.out`, Buffer.from('{"predictions":[1,2]}\n'));
    const merging = mergeInput(
      index,
      { shardOutput: (n) => objects.source(`${shardName(n)}.out`) },
      { tfsMethod: 'predict', joinSource: 'None' },
      {
        out: await objects.sink('out'),
        errors: await objects.sink('merge-errors'),
      },
    );
    await expect(merging).rejects.toMatchObject({
      name: 'PredictionCountError',
      message: expect.stringContaining('2 outputs for 3 records'),
    });
  });
});

/** Where each shard starts when shards hold these many records and nothing was quarantined between. */
function firstRecords(records: number[]): number[] {
  let next = 1;
  return records.map((count) => {
    const first = next;
    next += count;
    return first;
  });
}

function collect(factory: ReaderFactory, data: Buffer): Buffer[] {
  const records: Buffer[] = [];
  const reader = factory(
    {
      onRecord: (record) => records.push(Buffer.from(record)),
      onBadRecord: (bad) => {
        throw new Error(bad.reason);
      },
      onSkipped: () => {},
    },
    { input: 'shard', maxRecordBytes: 1 << 20 },
  );
  reader.push(data);
  reader.end();
  return records;
}

describe('encoding on worker threads', () => {
  it('writes the same shards, errors and index as encoding inline', async () => {
    // Prepare: several blocks' worth of records, some bad, so blocks travel to both workers.
    const lines: string[] = [];
    for (let k = 0; k < 60_000; k++)
      lines.push(k % 997 === 0 ? '{broken' : JSON.stringify({ id: k, features: [k, k / 3] }));
    const input = Buffer.from(`${lines.join('\n')}\n`);
    const results: { index: ShardIndex; objects: Record<string, string> }[] = [];
    for (const workers of [undefined, shardThreads(2)]) {
      const objects = new MemoryObjects();
      const index = await shardInput(
        chunks(input, [65_536, 100_003]),
        {
          ...base,
          input: 'in',
          splitType: 'Line',
          decoding: 'json',
          inputFilter: '$.features',
          shardBytes: 200_000,
          ...(workers && { workers }),
        },
        { openShard: (n) => objects.sink(shardName(n)), errors: await objects.sink('errors') },
      );
      results.push({
        index,
        objects: Object.fromEntries(
          [...objects.objects].map(([name, bytes]) => [name, bytes.toString('utf8')]),
        ),
      });
    }
    // Assess
    expect(results[1]).toEqual(results[0]);
    expect(results[0]?.index.records).toEqual({ in: 60_000, skipped: 0, errors: 61, sent: 59_939 });
    expect(results[0]?.index.shards.length).toBeGreaterThan(3);
    const inline = results[0];
    const shards = inline?.index.shards.map((s) => inline.objects[shardName(s.shard)]).join('');
    const expected = lines
      .filter((_, k) => k % 997 !== 0)
      .map((line) => `${JSON.stringify((JSON.parse(line) as { features: number[] }).features)}\n`);
    expect(shards).toBe(expected.join(''));
  });

  it('keeps every record in order when a block holds more records than its pooled index', async () => {
    // Prepare: 400k records of a few bytes: a block of 1 MB holds far more than 16384 of them.
    const lines = Array.from({ length: 400_000 }, (_, k) => `[${k % 10}]`);
    const input = Buffer.from(`${lines.join('\n')}\n`);
    for (const workers of [undefined, shardThreads(2)]) {
      const objects = new MemoryObjects();
      // Act
      const index = await shardInput(
        chunks(input, [1 << 20]),
        {
          ...base,
          input: 'in',
          splitType: 'Line',
          decoding: 'json',
          shardBytes: 1 << 20,
          ...(workers && { workers }),
        },
        { openShard: (n) => objects.sink(shardName(n)), errors: await objects.sink('errors') },
      );
      // Assess
      expect(index.records).toEqual({ in: 400_000, skipped: 0, errors: 0, sent: 400_000 });
      const shards = index.shards.map((s) => objects.objects.get(shardName(s.shard))?.toString()).join('');
      expect(shards).toBe(`${lines.join('\n')}\n`);
      expect(index.shards.map((s) => s.firstRecord)).toEqual(
        index.shards.map((_, k) => 1 + index.shards.slice(0, k).reduce((n, s) => n + s.records, 0)),
      );
    }
  });
});

describe('lines that pass through untouched', () => {
  it('are written verbatim, without empty lines, cut at line ends, and come back in order', async () => {
    const text = fc
      .string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '😀', '\r'), maxLength: 12 })
      .map((t) => t.replace(/\r+$/, ''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(text, lineEnding), { maxLength: 40 }),
        fc.boolean(),
        chunkSizes,
        shardBytes,
        fc.constantFrom(30, 1 << 20),
        async (lines, finalNewline, sizes, bytes, limit) => {
          const input = lines
            .map(([t, end], k) => t + (k < lines.length - 1 || finalNewline ? end : ''))
            .join('');
          const objects = new MemoryObjects();
          const index = await shardInput(
            chunks(Buffer.from(input), sizes),
            {
              ...base,
              input: 'in',
              splitType: 'Line',
              decoding: 'none',
              shardBytes: bytes,
              maxRecordBytes: limit,
            },
            {
              openShard: (n) => objects.sink(shardName(n)),
              errors: await objects.sink('errors'),
            },
          );
          const written = index.shards.map((s) => objects.text(shardName(s.shard)));
          const kept = lines.flatMap(([t, end], k) => {
            const terminated = k < lines.length - 1 || finalNewline;
            if (t === '' || Buffer.byteLength(t) + (end === '\r\n' && terminated ? 1 : 0) > limit) return [];
            return [t + (end === '\r\n' && terminated ? '\r\n' : '\n')];
          });
          // Assess: the shards hold exactly the good lines, in order; the counts add up per shard.
          expect(written.join('')).toBe(kept.join(''));
          expect(index.shards.map((s) => s.records)).toEqual(written.map((w) => w.split('\n').length - 1));
          const tooLong = lines.filter(
            ([t, end], k) =>
              t !== '' &&
              Buffer.byteLength(t) + (end === '\r\n' && (k < lines.length - 1 || finalNewline) ? 1 : 0) >
                limit,
          );
          expect(jsonLines(objects.text('errors'))).toHaveLength(tooLong.length);
          expect(index.records.in).toBe(kept.length + tooLong.length);
          if (tooLong.length === 0) {
            expect(index.shards.map((s) => s.firstRecord)).toEqual(
              firstRecords(index.shards.map((s) => s.records)),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('merging model outputs', () => {
  it('writes one line per record whatever the shape of the predictions and of the responses', async () => {
    const number = fc.double({ noNaN: true, noDefaultInfinity: true });
    const prediction = fc.oneof(
      fc.array(number, { maxLength: 4 }),
      number,
      fc.array(fc.array(number, { maxLength: 2 }), { maxLength: 2 }),
      fc.string(),
      fc.dictionary(fc.string(), number, { maxKeys: 2 }),
    );
    const sameShape = fc.oneof(
      fc.array(fc.array(number, { maxLength: 4 }), { maxLength: 40 }),
      fc.array(number, { maxLength: 40 }),
      fc.array(prediction, { maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(
        sameShape,
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        chunkSizes,
        async (predictions, perResponse, pretty, sizes) => {
          const objects = new MemoryObjects();
          const responses: string[] = [];
          for (let k = 0; k < predictions.length; k += perResponse) {
            responses.push(
              JSON.stringify(
                { predictions: predictions.slice(k, k + perResponse) },
                null,
                pretty ? 2 : undefined,
              ).replace(/\n/g, ''),
            );
          }
          objects.objects.set('shard.out', Buffer.from(responses.map((r) => `${r}\n`).join('')));
          const index: ShardIndex = {
            input: 'in',
            format: 'instances',
            shards:
              predictions.length > 0
                ? [{ shard: 0, firstRecord: 1, records: predictions.length, bytes: 1 }]
                : [],
            records: { in: predictions.length, skipped: 0, errors: 0, sent: predictions.length },
            quarantined: [],
          };
          await mergeInput(
            index,
            { shardOutput: () => objects.source('shard.out', sizes) },
            { tfsMethod: 'predict', joinSource: 'None' },
            {
              out: await objects.sink('out'),
              errors: await objects.sink('errors'),
            },
          );
          expect(jsonLines(objects.text('out'))).toEqual(
            predictions.map((p) => JSON.parse(JSON.stringify(p))),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
