import { describe, expect, it } from 'vitest';
import { encodeExample } from '../../../src/core/records/example.ts';
import { encodeRecordIo } from '../../../src/core/records/recordio.ts';
import { encodeTfRecords } from '../../../src/core/records/tfrecord.ts';
import {
  BlockBuilder,
  BufferPool,
  createBlockEncoder,
  type EncodedBlock,
  type EncodeSettings,
  INDEX_BYTES,
  type RecordBlock,
} from '../../../src/core/shard/block.ts';
import { jsonLines } from '../../support/memory.ts';
import type { ErrorRowSeen } from '../../support/shards.ts';

/** A record as framed (its bytes), or one the framing could not read (its bytes and why). */
type Framed = string | Buffer | { bad: string; reason: string; size: number };

const builder = (blockBytes = 1 << 10): BlockBuilder =>
  new BlockBuilder(blockBytes, new BufferPool(64), new BufferPool(INDEX_BYTES));

/** A block of records numbered from 1, record k starting at line (or offset) 10 * k. */
function blockOf(records: readonly Framed[]): RecordBlock {
  const blocks = builder();
  records.forEach((record, k) => {
    if (typeof record === 'object' && !Buffer.isBuffer(record)) {
      blocks.addBad(Buffer.from(record.bad), k + 1, 10 * (k + 1), record.reason, record.size);
    } else {
      blocks.add(Buffer.from(record), k + 1, 10 * (k + 1));
    }
  });
  return blocks.take();
}

const settings = (overrides: Partial<EncodeSettings>): EncodeSettings => ({
  input: 'in',
  splitType: 'Line',
  decoding: 'json',
  maxRecordBytes: 1 << 20,
  requestPerLine: false,
  ...overrides,
});

async function encode(
  overrides: Partial<EncodeSettings>,
  records: readonly Framed[],
  pool = new BufferPool(64),
): Promise<EncodedBlock> {
  return (await createBlockEncoder(settings(overrides), pool))(blockOf(records));
}

const encodedText = (block: EncodedBlock): string => Buffer.from(block.encoded).toString('utf8');

describe('BlockBuilder', () => {
  it('packs records back to back with their numbers and positions, marking the bad ones', () => {
    const blocks = builder();
    blocks.add(Buffer.from('{"f":[1]}'), 1, 1);
    blocks.addBad(Buffer.from('{"f":'), 2, 3, 'invalid JSON at column 6', 5);
    blocks.add(Buffer.from('[1, 2]'), 4, 7);

    const block = blocks.take();

    expect(Buffer.from(block.data).toString()).toBe('{"f":[1]}{"f":[1, 2]');
    expect([...block.ends]).toEqual([9, 14, 20]);
    expect([...block.numbers]).toEqual([1, 2, 4]);
    expect([...block.positions]).toEqual([1, 3, 7]);
    expect(block.bad).toEqual([{ index: 1, reason: 'invalid JSON at column 6', size: 5 }]);
  });

  it('is full once it holds blockBytes, and empty again once taken', () => {
    const blocks = builder(32);
    blocks.add(Buffer.alloc(31, 0x61), 1, 1);
    const before = blocks.full;
    blocks.add(Buffer.from('b'), 2, 2);

    expect([before, blocks.full, blocks.length]).toEqual([false, true, 2]);
    blocks.take();
    expect([blocks.full, blocks.length]).toEqual([false, 0]);
  });

  it('holds a record larger than its buffers, and only the first 4 KiB of a bad one', () => {
    const blocks = builder(32);
    const large = Buffer.alloc(200, 0x61);
    blocks.add(large, 1, 1);
    blocks.addBad(Buffer.alloc(10_000, 0x62), 2, 2, 'too long', 10_000);

    const block = blocks.take();

    expect(Buffer.from(block.data).subarray(0, 200)).toEqual(large);
    expect([...block.ends]).toEqual([200, 200 + 4096]);
    expect(block.bad).toEqual([{ index: 1, reason: 'too long', size: 10_000 }]);
  });
});

describe('createBlockEncoder', () => {
  it.each([
    ['JSON through a filter', { inputFilter: '$.f' }, ['{"f":[1, 2]}', '{"id":2,"f":"x"}'], '[1, 2]\n"x"\n'],
    [
      'JSON as requests',
      { requestPerLine: true },
      ['[1]', '{"a":2}'],
      '{"instances":[[1]]}\n{"instances":[{"a":2}]}\n',
    ],
    ['a whole JSON object', { splitType: 'None' }, ['{\n  "a": [1, 2]\n}\n'], '{"a":[1,2]}\n'],
    ['CSV rows', { decoding: 'csv' }, ['1,"a,b"', '7', ',x'], '[1,"a,b"]\n7\n[null,"x"]\n'],
    [
      'tf.Example',
      { splitType: 'TFRecord', decoding: 'tf-example' },
      [encodeExample({ x: { ints: [3] } })],
      '{"x":[3]}\n',
    ],
    ['lines untouched', { decoding: 'none' }, ['a b', '{not json'], 'a b\n{not json\n'],
  ] as const)('encodes %s as one instance line per record', async (_, overrides, records, expected) => {
    const block = await encode(overrides, records);

    expect(encodedText(block)).toBe(expected);
    expect([...block.numbers]).toEqual(records.map((_, k) => k + 1));
    expect(block.errors).toBe('');
  });

  it.each([
    ['TFRecord', encodeTfRecords],
    ['RecordIO', encodeRecordIo],
  ] as const)('keeps the %s framing of records that are not decoded', async (splitType, frame) => {
    const payloads = [Buffer.from('one'), Buffer.from([0, 255, 10])];

    const block = await encode({ splitType, decoding: 'none' }, payloads);

    expect(Buffer.from(block.encoded)).toEqual(frame(payloads));
    expect([...block.ends]).toEqual([frame(payloads.slice(0, 1)).length, frame(payloads).length]);
  });

  it('quarantines records with the reason that names what went wrong, and sends the others', async () => {
    // Prepare: a record the framing could not read, one that is not JSON, two the filter misses.
    const records: Framed[] = [
      '{"f":1}',
      { bad: '"\uFFFD"', reason: 'invalid UTF-8', size: 3 },
      '{"f":',
      '{"g":2}',
      '[1, 2]',
      '{"f":[5]}',
    ];
    // Act
    const block = await encode({ inputFilter: '$.f' }, records);
    // Assess
    expect(encodedText(block)).toBe('1\n[5]\n');
    expect([...block.numbers]).toEqual([1, 6]);
    expect(block.quarantined).toEqual([2, 3, 4, 5]);
    expect(jsonLines(block.errors)).toEqual([
      { input: 'in', record: 2, line: 20, reason: 'invalid UTF-8', raw: '"\uFFFD"', size: 3 },
      { input: 'in', record: 3, line: 30, reason: 'invalid JSON at column 6', raw: '{"f":', size: 5 },
      { input: 'in', record: 4, line: 40, reason: "$.f: no member 'f'", raw: '{"g":2}', size: 7 },
      {
        input: 'in',
        record: 5,
        line: 50,
        reason: "$.f: 'f' asked of a value that is not an object",
        raw: '[1, 2]',
        size: 6,
      },
    ] satisfies ErrorRowSeen[]);
  });

  it('names a bad binary record by its offset, its bytes in base64', async () => {
    const block = await encode({ splitType: 'TFRecord', decoding: 'tf-example' }, [
      Buffer.from([0xff, 0x01]),
    ]);

    expect(jsonLines(block.errors)).toEqual([
      {
        input: 'in',
        record: 1,
        offset: 10,
        reason: expect.stringMatching(/^malformed tf\.Example/),
        raw: '/wE=',
        rawEncoding: 'base64',
        size: 2,
      },
    ]);
  });

  it.each([
    ['an instance request', { requestPerLine: true }, '[1,2,3,4]', 'record is 26 bytes once encoded'],
    [
      'a framed TFRecord',
      { splitType: 'TFRecord', decoding: 'none' },
      'abcdefghi',
      'record is 25 bytes once encoded',
    ],
  ] as const)('quarantines %s over maxRecordBytes once encoded', async (_, overrides, record, reason) => {
    const block = await encode({ ...overrides, maxRecordBytes: 24 }, ['[0]', record]);

    expect(block.quarantined).toEqual([2]);
    expect(block.ends.length).toBe(1);
    expect(jsonLines(block.errors)).toEqual([
      expect.objectContaining({
        record: 2,
        reason: `${reason}, over the request limit of 24 bytes (maxPayloadInMB)`,
        size: record.length,
      }),
    ]);
  });
});

describe('BufferPool', () => {
  it('hands back a buffer given to it instead of allocating another', () => {
    const pool = new BufferPool(64);
    const first = pool.take();
    pool.give(first.buffer);

    const again = pool.take();

    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(64);
    expect(pool.take().buffer).not.toBe(first.buffer);
  });

  it('keeps no buffer of another size, and at most four', () => {
    const pool = new BufferPool(64);
    const given = Array.from({ length: 6 }, () => pool.take().buffer);
    pool.give(new ArrayBuffer(128));
    for (const buffer of given) pool.give(buffer);

    const taken = Array.from({ length: 6 }, () => pool.take().buffer);

    expect(taken.filter((buffer) => given.includes(buffer))).toHaveLength(4);
    expect(taken.every((buffer) => buffer.byteLength === 64)).toBe(true);
  });

  it('gives the encoder a buffer given back earlier to write the next block into', async () => {
    const pool = new BufferPool(64);
    const first = await encode({}, ['[1]'], pool);
    pool.give(first.encoded.buffer);

    const second = await encode({}, ['[2]'], pool);

    expect(second.encoded.buffer).toBe(first.encoded.buffer);
    expect(encodedText(second)).toBe('[2]\n');
  });
});
