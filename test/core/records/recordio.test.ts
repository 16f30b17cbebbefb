import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FramingError } from '../../../src/core/errors.ts';
import {
  createRecordIoReader,
  encodeRecordIo,
  RECORDIO_MAGIC,
  recordIoFramer,
} from '../../../src/core/records/recordio.ts';
import { type BadRecord, RAW_KEEP_BYTES } from '../../../src/core/records/types.ts';

const MAGIC = Buffer.from([0x0a, 0x23, 0xd7, 0xce]);

interface ReadRecord {
  data: Buffer;
  record: number;
  offset: number;
}

interface ReadResult {
  records: ReadRecord[];
  bad: BadRecord[];
}

function split(input: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < input.length) {
    const size = Math.max(1, sizes[i % sizes.length] ?? input.length);
    chunks.push(input.subarray(pos, pos + size));
    pos += size;
    i += 1;
  }
  return chunks;
}

function read(chunks: Buffer[], maxRecordBytes = 1 << 20): ReadResult {
  const result: ReadResult = { records: [], bad: [] };
  const reader = createRecordIoReader(
    {
      onRecord: (data, record, offset) => result.records.push({ data: Buffer.from(data), record, offset }),
      onBadRecord: (bad) => result.bad.push(bad),
      onSkipped: () => {
        throw new Error('binary framings skip nothing');
      },
    },
    { input: 'in.rec', maxRecordBytes },
  );
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return result;
}

function readError(input: Buffer, sizes: readonly number[]): unknown {
  try {
    read(split(input, sizes));
  } catch (error) {
    return error;
  }
  return undefined;
}

/** One part's header. */
function part(flag: number, length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(RECORDIO_MAGIC, 0);
  out.writeUInt32LE(((flag << 29) | length) >>> 0, 4);
  return out;
}

function offsetsOf(payloads: Buffer[]): number[] {
  const offsets: number[] = [];
  let offset = 0;
  for (const payload of payloads) {
    offsets.push(offset);
    offset += recordIoFramer.frame(payload).length;
  }
  return offsets;
}

function recordAllocations(): number[] {
  const sizes: number[] = [];
  const { alloc, allocUnsafe, allocUnsafeSlow } = Buffer;
  vi.spyOn(Buffer, 'alloc').mockImplementation((size, fill, encoding) => {
    sizes.push(size);
    return alloc.call(Buffer, size, fill, encoding);
  });
  vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size) => {
    sizes.push(size);
    return allocUnsafe.call(Buffer, size);
  });
  vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((size) => {
    sizes.push(size);
    return allocUnsafeSlow.call(Buffer, size);
  });
  return sizes;
}

/** Payloads built from random bytes and magic numbers at aligned and unaligned positions. */
const payloadArb = fc
  .array(fc.oneof(fc.uint8Array({ maxLength: 13 }), fc.constant(new Uint8Array(MAGIC))), { maxLength: 8 })
  .map((pieces) => Buffer.concat(pieces));
const chunkSizesArb = fc.oneof(
  fc.constant([1]),
  fc.constant([Number.MAX_SAFE_INTEGER]),
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('recordIoFramer', () => {
  it('writes a record without the magic as one part padded to 4 bytes', () => {
    expect(recordIoFramer.frame(Buffer.from([1, 2, 3, 4, 5]))).toEqual(
      Buffer.concat([part(0, 5), Buffer.from([1, 2, 3, 4, 5, 0, 0, 0])]),
    );
    expect(recordIoFramer.frame(Buffer.alloc(0))).toEqual(part(0, 0));
  });

  it('cuts at each aligned magic number and drops it, as MXNet does', () => {
    const data = Buffer.concat([Buffer.from([1, 2, 3, 4]), MAGIC, MAGIC, Buffer.from([5, 6])]);
    expect(recordIoFramer.frame(data)).toEqual(
      Buffer.concat([
        part(1, 4),
        Buffer.from([1, 2, 3, 4]),
        part(2, 0),
        part(3, 2),
        Buffer.from([5, 6, 0, 0]),
      ]),
    );
    expect(recordIoFramer.frame(MAGIC)).toEqual(Buffer.concat([part(1, 0), part(3, 0)]));
  });

  it('leaves a magic number at an unaligned position inside the data', () => {
    const data = Buffer.concat([Buffer.from([9]), MAGIC]);
    expect(recordIoFramer.frame(data)).toEqual(Buffer.concat([part(0, 5), data, Buffer.alloc(3)]));
  });

  it('refuses a record longer than 29 bits can say', () => {
    expect(() => recordIoFramer.frame(Buffer.alloc(2 ** 29))).toThrow(RangeError);
  });
});

describe('createRecordIoReader', () => {
  it('returns every payload in order with record numbers and offsets, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { maxLength: 10 }), chunkSizesArb, (payloads, sizes) => {
        const result = read(split(encodeRecordIo(payloads), sizes));
        expect(result.bad).toEqual([]);
        expect(result.records.map((r) => r.data)).toEqual(payloads);
        expect(result.records.map((r) => r.record)).toEqual(payloads.map((_, i) => i + 1));
        expect(result.records.map((r) => r.offset)).toEqual(offsetsOf(payloads));
      }),
    );
  });

  it('joins parts cut at unaligned positions by another writer', () => {
    const input = Buffer.concat([
      part(1, 1),
      Buffer.from([7, 0, 0, 0]),
      part(3, 3),
      Buffer.from([8, 8, 8, 0]),
    ]);
    const result = read(split(input, [1]));
    expect(result.records).toEqual([
      { data: Buffer.concat([Buffer.from([7]), MAGIC, Buffer.from([8, 8, 8])]), record: 1, offset: 0 },
    ]);
  });

  it('passes a single-part record lying inside one chunk as a view of that chunk', () => {
    const input = encodeRecordIo([Buffer.from('first'), Buffer.from('second')]);
    const views: { sameMemory: boolean; byteOffset: number }[] = [];
    const reader = createRecordIoReader(
      {
        onRecord: (data) =>
          views.push({ sameMemory: data.buffer === input.buffer, byteOffset: data.byteOffset }),
        onBadRecord: () => {},
        onSkipped: () => {},
      },
      { input: 'in', maxRecordBytes: 100 },
    );
    reader.push(input);
    reader.end();
    expect(views).toEqual([
      { sameMemory: true, byteOffset: input.byteOffset + 8 },
      { sameMemory: true, byteOffset: input.byteOffset + 16 + 8 },
    ]);
  });

  it('throws a FramingError naming the offset when a magic number is wrong', () => {
    const input = encodeRecordIo([Buffer.from('one'), Buffer.from('two')]);
    input.writeUInt32LE(0xdeadbeef, 12);
    for (const sizes of [[1], [5], [input.length]]) {
      const error = readError(input, sizes);
      expect(error).toBeInstanceOf(FramingError);
      expect(error).toMatchObject({ name: 'FramingError', input: 'in.rec', offset: 12 });
      expect(String(error)).toContain('RecordIO magic number not found at a part of record 2 at byte 12');
    }
  });

  it('throws a FramingError when the parts of a split record are out of order', () => {
    const orphan = Buffer.concat([encodeRecordIo([Buffer.from('ok')]), part(3, 0)]);
    expect(readError(orphan, [1])).toMatchObject({ name: 'FramingError', offset: 12 });
    const unfinished = Buffer.concat([part(1, 0), part(0, 0)]);
    expect(readError(unfinished, [1])).toMatchObject({
      name: 'FramingError',
      offset: 8,
      message: 'in.rec: RecordIO record 1 is split but its last part is missing at byte 8',
    });
  });

  it('reports a truncated tail as a bad record after the records before it', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 1000 }),
        chunkSizesArb,
        (payloads, cutSeed, sizes) => {
          const input = encodeRecordIo(payloads);
          const last = payloads.length - 1;
          const lastStart = offsetsOf(payloads)[last] ?? 0;
          const got = cutSeed % (input.length - lastStart);
          fc.pre(got > 0);
          const result = read(split(input.subarray(0, lastStart + got), sizes));
          expect(result.records.map((r) => r.data)).toEqual(payloads.slice(0, last));
          expect(result.bad).toEqual([
            expect.objectContaining({
              record: payloads.length,
              offset: lastStart,
              reason: expect.stringMatching(
                new RegExp(`^truncated RecordIO: expected (at least )?\\d+ bytes, got ${got}$`),
              ),
              size: got,
            }),
          ]);
        },
      ),
    );
  });

  it('says exactly how many bytes a truncated single-part record needed', () => {
    const input = encodeRecordIo([Buffer.from('abcdef')]);
    const result = read([input.subarray(0, 11)]);
    expect(result.bad).toEqual([
      {
        record: 1,
        offset: 0,
        reason: 'truncated RecordIO: expected 16 bytes, got 11',
        raw: Buffer.from('abc'),
        size: 11,
      },
    ]);
    const header = read([input.subarray(0, 5)]);
    expect(header.bad).toEqual([
      {
        record: 1,
        offset: 0,
        reason: 'truncated RecordIO: expected at least 8 bytes, got 5',
        raw: input.subarray(0, 5),
        size: 5,
      },
    ]);
  });

  it('skips a record over maxRecordBytes as it streams past and reads its neighbours', () => {
    const limit = 40;
    fc.assert(
      fc.property(chunkSizesArb, (sizes) => {
        const fits = Buffer.concat([Buffer.alloc(16, 1), MAGIC, Buffer.alloc(limit - 20, 2)]);
        const big = Buffer.concat([Buffer.alloc(20, 3), MAGIC, Buffer.alloc(17, 4)]);
        const input = encodeRecordIo([fits, big, Buffer.from('after')]);
        const result = read(split(input, sizes), limit);
        expect(result.records.map((r) => [r.data, r.record])).toEqual([
          [fits, 1],
          [Buffer.from('after'), 3],
        ]);
        expect(result.bad).toEqual([
          {
            record: 2,
            offset: recordIoFramer.frame(fits).length,
            reason: 'record is 41 bytes, over the request limit of 40 bytes (maxPayloadInMB)',
            raw: big,
            size: 41,
          },
        ]);
      }),
    );
  });

  it('reports a part claiming 2^29 - 1 bytes on a small input as truncated without buffering it', () => {
    const input = Buffer.concat([
      encodeRecordIo([Buffer.from('before')]),
      part(0, 2 ** 29 - 1),
      Buffer.from('tail'),
    ]);
    const allocations = recordAllocations();
    const result = read(split(input, [3]), 1024);
    expect(result.records.map((r) => r.data.toString())).toEqual(['before']);
    expect(result.bad).toEqual([
      {
        record: 2,
        offset: 16,
        reason: `truncated RecordIO: expected ${8 + 2 ** 29} bytes, got 12; record is ${2 ** 29 - 1} bytes, over the request limit of 1024 bytes (maxPayloadInMB)`,
        raw: Buffer.from('tail'),
        size: 12,
      },
    ]);
    expect(Math.max(0, ...allocations)).toBeLessThanOrEqual(RAW_KEEP_BYTES);
  });

  it('bounds memory for a record of many parts over maxRecordBytes', () => {
    const limit = 1 << 16;
    const pieces: Buffer[] = [];
    for (let i = 0; i < 256; i++) pieces.push(Buffer.alloc(4092, i), MAGIC);
    const big = Buffer.concat(pieces);
    const input = encodeRecordIo([big, Buffer.from('x')]);
    const allocations = recordAllocations();
    const result = read(split(input, [4096]), limit);
    expect(result.records.map((r) => [r.data.toString(), r.record])).toEqual([['x', 2]]);
    expect(result.bad.map((b) => [b.record, b.size, b.raw])).toEqual([
      [1, big.length, big.subarray(0, RAW_KEEP_BYTES)],
    ]);
    expect(Math.max(0, ...allocations)).toBeLessThanOrEqual(limit);
  });

  it('reads nothing from an empty input', () => {
    expect(read([])).toEqual({ records: [], bad: [] });
  });
});
