import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLineReader, type LineReaderOptions } from '../../../src/core/records/line.ts';
import { type BadRecord, RAW_KEEP_BYTES } from '../../../src/core/records/types.ts';
import { chunksOf, collector, type Seen } from '../../support/records.ts';

function read(
  input: string | Buffer,
  options: Partial<LineReaderOptions> = {},
  sizes: readonly number[] = [],
): Seen {
  const { handler, seen } = collector();
  const reader = createLineReader(handler, {
    input: 'test.jsonl',
    maxRecordBytes: 1 << 20,
    utf8: true,
    ...options,
  });
  for (const chunk of chunksOf(typeof input === 'string' ? Buffer.from(input) : input, sizes))
    reader.push(chunk);
  reader.end();
  return seen;
}

const texts = (seen: Seen): string[] => seen.records.map((r) => r.data.toString());
const chunkSizes = fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 6 });

describe('createLineReader framing', () => {
  const line = fc.record({
    text: fc.string({ unit: fc.constantFrom('a', 'b', ' ', '{', '"', '\t', 'é', '😀'), maxLength: 8 }),
    crlf: fc.boolean(),
  });

  it('gives back the non-empty lines in order, with record and line numbers, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 15 }),
        fc.boolean(),
        chunkSizes,
        (lines, finalNewline, sizes) => {
          let input = '';
          const expected: [number, number, string][] = [];
          const skipped: number[] = [];
          lines.forEach(({ text, crlf }, k) => {
            const last = k === lines.length - 1;
            // Without a final newline, an empty last line is no line at all.
            if (last && !finalNewline && text === '') return;
            input += text;
            if (!last || finalNewline) input += crlf ? '\r\n' : '\n';
            if (text === '') skipped.push(k + 1);
            else expected.push([expected.length + 1, k + 1, text]);
          });
          const seen = read(input, {}, sizes);
          expect(seen.records.map((r) => [r.record, r.line, r.data.toString()])).toEqual(expected);
          expect(seen.skipped).toEqual(skipped);
          expect(seen.bad).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads lines whole when each chunk holds many', () => {
    const seen = read('{"a":1}\n\n{"b":2}\r\n{"c":3}');
    expect(seen.records.map((r) => [r.record, r.line, r.data.toString()])).toEqual([
      [1, 1, '{"a":1}'],
      [2, 3, '{"b":2}'],
      [3, 4, '{"c":3}'],
    ]);
    expect(seen.skipped).toEqual([2]);
  });

  it('skips lines that are empty or a lone CR, and keeps a CR inside a line', () => {
    const seen = read('\n\r\na\rb\r\n\r\n', {}, [1]);
    expect(texts(seen)).toEqual(['a\rb']);
    expect(seen.records[0]?.line).toBe(3);
    expect(seen.skipped).toEqual([1, 2, 4]);
  });

  it('reads nothing from empty input', () => {
    const seen = read('');
    expect(seen).toEqual({ records: [], bad: [], skipped: [] });
  });

  it('flushes a last line that has no newline, in one chunk or many', () => {
    expect(texts(read('x\ny'))).toEqual(['x', 'y']);
    expect(texts(read('x\nyz', {}, [3]))).toEqual(['x', 'yz']);
  });
});

describe('createLineReader UTF-8 checks', () => {
  const invalid = fc.constantFrom(
    Buffer.from([0xff]),
    Buffer.from([0x61, 0xc3]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xf0, 0x9f, 0x98, 0x61]),
    Buffer.from([0x80, 0x7b, 0x7d]),
  );
  const valid = fc
    .string({ unit: fc.constantFrom('a', '1', 'é', '😀', '€'), minLength: 1, maxLength: 6 })
    .map((text) => Buffer.from(text));
  const lines = fc.array(fc.oneof(valid, invalid), { minLength: 1, maxLength: 12 });

  it('reports invalid UTF-8 lines as bad with their numbers, and keeps their neighbours', () => {
    fc.assert(
      fc.property(lines, fc.boolean(), chunkSizes, (parts, crlf, sizes) => {
        const input = Buffer.concat(parts.flatMap((part) => [part, Buffer.from(crlf ? '\r\n' : '\n')]));
        const seen = read(input, { utf8: true }, sizes);
        const good = parts.flatMap((part, k) => (isValid(part) ? [k] : []));
        const bad = parts.flatMap((part, k) => (isValid(part) ? [] : [k]));
        expect(seen.records.map((r) => [r.record, r.line, r.data])).toEqual(
          good.map((k) => [k + 1, k + 1, parts[k]]),
        );
        expect(seen.bad.map((b) => [b.record, b.line, b.reason, b.raw, b.size])).toEqual(
          bad.map((k) => [k + 1, k + 1, 'invalid UTF-8', parts[k], parts[k]?.length]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('passes invalid UTF-8 through when not asked to check it', () => {
    fc.assert(
      fc.property(lines, chunkSizes, (parts, sizes) => {
        const input = Buffer.concat(parts.flatMap((part) => [part, Buffer.from('\n')]));
        const seen = read(input, { utf8: false }, sizes);
        expect(seen.records.map((r) => r.data)).toEqual(parts);
        expect(seen.bad).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

function isValid(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe('createLineReader record size limit', () => {
  it('reports a 10 MB line over a 1 MB limit without holding it, and keeps its neighbours', () => {
    const limit = 1 << 20;
    const huge = Buffer.alloc(10 * limit, 'x');
    const input = Buffer.concat([Buffer.from('{"a":1}\n'), huge, Buffer.from('\n{"b":2}\n')]);
    const { handler, seen } = collector();
    const bad: BadRecord[] = [];
    const reader = createLineReader(
      { ...handler, onBadRecord: (record) => bad.push(record) },
      { input: 'big.jsonl', maxRecordBytes: limit, utf8: true },
    );
    for (let at = 0; at < input.length; at += 65_536) reader.push(input.subarray(at, at + 65_536));
    reader.end();
    expect(texts(seen)).toEqual(['{"a":1}', '{"b":2}']);
    expect(seen.records.map((r) => [r.record, r.line])).toEqual([
      [1, 1],
      [3, 3],
    ]);
    expect(bad).toHaveLength(1);
    const [record] = bad;
    expect(record).toMatchObject({ record: 2, line: 2, size: huge.length });
    expect(record?.reason).toContain(`${huge.length} bytes`);
    expect(record?.raw.length).toBeLessThanOrEqual(RAW_KEEP_BYTES);
    expect(record?.raw.every((c) => c === 0x78)).toBe(true);
    // What is kept of it is a small part of the line.
    expect(record?.raw.buffer.byteLength).toBeLessThan(2 * limit);
  });

  it('reports an oversize line that lies within one chunk, and a last one without newline', () => {
    const seen = read('ok\nabcdefgh\nok\nlonger line', { maxRecordBytes: 5 });
    expect(texts(seen)).toEqual(['ok', 'ok']);
    expect(seen.bad.map((b) => [b.record, b.line, b.size])).toEqual([
      [2, 2, 8],
      [4, 4, 11],
    ]);
    expect(seen.bad[0]?.raw.toString()).toBe('abcdefgh');
    // A line that is still being read when it goes over the limit keeps only its first bytes.
    expect('longer line'.startsWith(seen.bad[1]?.raw.toString() ?? 'none')).toBe(true);
    expect(seen.bad[1]?.raw.length).toBeGreaterThanOrEqual(5);
  });

  it('measures a record without its CR, so LF and CRLF files have the same limit', () => {
    const limit = 8;
    const exact = 'a'.repeat(limit);
    const over = 'b'.repeat(limit + 1);
    for (const newline of ['\n', '\r\n']) {
      const input = `${exact}${newline}${over}${newline}`;
      for (const sizes of [[], [1], [3], [limit], [limit + 1], [limit + 2]]) {
        const seen = read(input, { maxRecordBytes: limit }, sizes);
        expect(texts(seen)).toEqual([exact]);
        expect(seen.bad.map((b) => [b.record, b.line, b.size, b.raw.toString()])).toEqual([
          [2, 2, limit + 1, over],
        ]);
      }
    }
  });

  it('keeps a record of any size up to the limit, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(12), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        chunkSizes,
        (lengths, crlf, sizes) => {
          const limit = 6;
          const lines = lengths.map((n, k) => String.fromCharCode(0x61 + k).repeat(n));
          const input = lines.map((l) => `${l}${crlf ? '\r\n' : '\n'}`).join('');
          const seen = read(input, { maxRecordBytes: limit }, sizes);
          expect(texts(seen)).toEqual(lines.filter((l) => l.length > 0 && l.length <= limit));
          const over = lines.filter((l) => l.length > limit);
          expect(seen.bad.map((b) => b.size)).toEqual(over.map((l) => l.length));
          seen.bad.forEach((b, k) => {
            const raw = b.raw.toString();
            expect(raw.length).toBeGreaterThanOrEqual(limit);
            expect(over[k]?.startsWith(raw)).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
