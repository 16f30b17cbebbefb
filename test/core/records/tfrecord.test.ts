import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FramingError } from '../../../src/core/errors.ts';
import {
  createTfRecordReader,
  encodeTfRecords,
  maskedCrc32c,
  tfRecordFramer,
} from '../../../src/core/records/tfrecord.ts';
import { type BadRecord, RAW_KEEP_BYTES } from '../../../src/core/records/types.ts';

interface ReadRecord {
  data: Buffer;
  record: number;
  offset: number;
}

interface ReadResult {
  records: ReadRecord[];
  bad: BadRecord[];
}

/** Splits `input` into chunks whose sizes cycle through `sizes`. */
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

function flip(buffer: Buffer, index: number, mask: number): void {
  buffer.writeUInt8(buffer.readUInt8(index) ^ mask, index);
}

function read(chunks: Buffer[], maxRecordBytes = 1 << 20): ReadResult {
  const result: ReadResult = { records: [], bad: [] };
  const reader = createTfRecordReader(
    {
      onRecord: (data, record, offset) => result.records.push({ data: Buffer.from(data), record, offset }),
      onBadRecord: (bad) => result.bad.push(bad),
      onSkipped: () => {
        throw new Error('binary framings skip nothing');
      },
    },
    { input: 'in.tfrecord', maxRecordBytes },
  );
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return result;
}

function offsetsOf(payloads: Buffer[]): number[] {
  const offsets: number[] = [];
  let offset = 0;
  for (const payload of payloads) {
    offsets.push(offset);
    offset += payload.length + 16;
  }
  return offsets;
}

/** A header claiming `length` bytes, with a correct length CRC. */
function header(length: bigint): Buffer {
  const out = Buffer.alloc(12);
  out.writeBigUInt64LE(length, 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  return out;
}

const payloadArb = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes));
const chunkSizesArb = fc.oneof(
  fc.constant([1]),
  fc.constant([Number.MAX_SAFE_INTEGER]),
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
);

/** Sizes of the buffers allocated from now on. */
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

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tfRecordFramer', () => {
  it('writes the length, its masked CRC, the data and its masked CRC', () => {
    const data = Buffer.from('hello');
    const framed = tfRecordFramer.frame(data);
    expect(framed.length).toBe(5 + 16);
    expect(framed.readBigUInt64LE(0)).toBe(5n);
    expect(framed.readUInt32LE(8)).toBe(maskedCrc32c(framed.subarray(0, 8)));
    expect(framed.subarray(12, 17).toString()).toBe('hello');
    expect(framed.readUInt32LE(17)).toBe(maskedCrc32c(data));
  });

  it('masks the CRC32C as TensorFlow does', () => {
    // crc32c("123456789") is 0xe3069283; rotated right by 15 and offset by 0xa282ead8.
    const rotated = ((0xe3069283 >>> 15) | (0xe3069283 << 17)) >>> 0;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe((rotated + 0xa282ead8) % 2 ** 32);
    expect(maskedCrc32c(Buffer.from('xx123456789').subarray(2))).toBe(maskedCrc32c(Buffer.from('123456789')));
  });
});

describe('createTfRecordReader', () => {
  it('returns every payload in order with record numbers and offsets, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { maxLength: 12 }), chunkSizesArb, (payloads, sizes) => {
        const result = read(split(encodeTfRecords(payloads), sizes));
        expect(result.bad).toEqual([]);
        expect(result.records.map((r) => r.data)).toEqual(payloads);
        expect(result.records.map((r) => r.record)).toEqual(payloads.map((_, i) => i + 1));
        expect(result.records.map((r) => r.offset)).toEqual(offsetsOf(payloads));
      }),
    );
  });

  it('passes a record lying inside one chunk as a view of that chunk', () => {
    const input = encodeTfRecords([Buffer.from('first'), Buffer.from('second')]);
    const views: { sameMemory: boolean; byteOffset: number }[] = [];
    const reader = createTfRecordReader(
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
      { sameMemory: true, byteOffset: input.byteOffset + 12 },
      { sameMemory: true, byteOffset: input.byteOffset + 21 + 12 },
    ]);
  });

  it('quarantines a record whose data CRC does not match and reads its neighbours', () => {
    fc.assert(
      fc.property(chunkSizesArb, (sizes) => {
        const payloads = [Buffer.from('one'), Buffer.from('two two'), Buffer.from('three')];
        const input = encodeTfRecords(payloads);
        const second = 3 + 16;
        flip(input, second + 12 + 2, 0xff);
        const result = read(split(input, sizes));
        expect(result.records.map((r) => [r.data.toString(), r.record, r.offset])).toEqual([
          ['one', 1, 0],
          ['three', 3, second + 7 + 16],
        ]);
        expect(result.bad).toEqual([
          {
            record: 2,
            offset: second,
            reason: 'TFRecord data CRC mismatch',
            raw: Buffer.from([...Buffer.from('tw'), 'o'.charCodeAt(0) ^ 0xff, ...Buffer.from(' two')]),
            size: 7,
          },
        ]);
      }),
    );
  });

  it('keeps only the first RAW_KEEP_BYTES of a record with a bad data CRC', () => {
    const input = encodeTfRecords([Buffer.alloc(RAW_KEEP_BYTES + 100, 7)]);
    flip(input, input.length - 1, 1);
    const result = read(split(input, [999]));
    expect(result.bad).toHaveLength(1);
    expect(result.bad[0]?.raw).toEqual(Buffer.alloc(RAW_KEEP_BYTES, 7));
    expect(result.bad[0]?.size).toBe(RAW_KEEP_BYTES + 100);
  });

  it('throws a FramingError naming the offset when a length CRC does not match', () => {
    const input = encodeTfRecords([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
    const second = 3 + 16;
    flip(input, second + 9, 0x10);
    for (const sizes of [[1], [5], [input.length]]) {
      const seen: string[] = [];
      const reader = createTfRecordReader(
        { onRecord: (data) => seen.push(data.toString()), onBadRecord: () => {}, onSkipped: () => {} },
        { input: 'in.tfrecord', maxRecordBytes: 100 },
      );
      let thrown: unknown;
      try {
        for (const chunk of split(input, sizes)) reader.push(chunk);
        reader.end();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(FramingError);
      expect(thrown).toMatchObject({
        name: 'FramingError',
        input: 'in.tfrecord',
        offset: second,
        message: `in.tfrecord: TFRecord length CRC mismatch in record 2 at byte ${second}`,
      });
      expect(seen).toEqual(['one']);
      expect(() => reader.end()).toThrow(FramingError);
    }
  });

  it('reports a truncated tail as a bad record after the records before it', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        chunkSizesArb,
        (payloads, cutSeed, sizes) => {
          const input = encodeTfRecords(payloads);
          const last = payloads.length - 1;
          const lastStart = offsetsOf(payloads)[last] ?? 0;
          const lastSize = (payloads[last]?.length ?? 0) + 16;
          const got = cutSeed % lastSize;
          fc.pre(got > 0);
          const result = read(split(input.subarray(0, lastStart + got), sizes));
          expect(result.records.map((r) => r.data)).toEqual(payloads.slice(0, last));
          const expected = got < 12 ? 12 : lastSize;
          expect(result.bad).toEqual([
            expect.objectContaining({
              record: payloads.length,
              offset: lastStart,
              reason: `truncated TFRecord: expected ${expected} bytes, got ${got}`,
              size: got,
            }),
          ]);
        },
      ),
    );
  });

  it('reports a length of 2^40 bytes on a small input as a truncated bad record without buffering it', () => {
    const before = encodeTfRecords([Buffer.from('before')]);
    const input = Buffer.concat([before, header(2n ** 40n), Buffer.from('just a few bytes')]);
    const allocations = recordAllocations();
    const result = read(split(input, [3]), 1024);
    expect(result.records.map((r) => r.data.toString())).toEqual(['before']);
    expect(result.bad).toEqual([
      {
        record: 2,
        offset: before.length,
        reason: `truncated TFRecord: expected ${2 ** 40 + 16} bytes, got 28; record is 1099511627776 bytes, over the request limit of 1024 bytes (maxPayloadInMB)`,
        raw: Buffer.from('just a few bytes'),
        size: 28,
      },
    ]);
    expect(Math.max(0, ...allocations)).toBeLessThanOrEqual(RAW_KEEP_BYTES);
  });

  it('skips a record over maxRecordBytes as it streams past and reads the next one', () => {
    const limit = 64;
    fc.assert(
      fc.property(chunkSizesArb, (sizes) => {
        const big = Buffer.alloc(limit + 1, 1);
        const input = encodeTfRecords([Buffer.alloc(limit, 2), big, Buffer.from('after')]);
        // The oversized record is not verified, so a bad data CRC on it goes unnoticed.
        flip(input, limit + 16 + 12 + big.length, 0xff);
        const result = read(split(input, sizes), limit);
        expect(result.records.map((r) => [r.data, r.record])).toEqual([
          [Buffer.alloc(limit, 2), 1],
          [Buffer.from('after'), 3],
        ]);
        expect(result.bad).toEqual([
          {
            record: 2,
            offset: limit + 16,
            reason: 'record is 65 bytes, over the request limit of 64 bytes (maxPayloadInMB)',
            raw: big,
            size: limit + 1,
          },
        ]);
      }),
    );
  });

  it('never allocates more than maxRecordBytes for a large record streamed in small chunks', () => {
    const limit = 1 << 16;
    const input = encodeTfRecords([Buffer.alloc(8 << 20, 3), Buffer.from('x')]);
    const allocations = recordAllocations();
    const result = read(split(input, [4096]), limit);
    expect(result.records.map((r) => r.data.toString())).toEqual(['x']);
    expect(result.bad.map((b) => [b.record, b.size, b.raw.length])).toEqual([[1, 8 << 20, RAW_KEEP_BYTES]]);
    expect(Math.max(0, ...allocations)).toBeLessThanOrEqual(limit);
  });

  it('reads nothing from an empty input', () => {
    expect(read([])).toEqual({ records: [], bad: [] });
  });
});
