import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CsvReader, type CsvReaderOptions, createCsvReader } from '../../../src/core/records/csv.ts';
import { parseCsvFields } from '../../../src/core/records/csv-instances.ts';
import { RAW_KEEP_BYTES, type RecordHandler } from '../../../src/core/records/types.ts';
import { chunksOf, collector, type Seen } from '../../support/records.ts';

function read(
  input: string | Buffer,
  options: Partial<CsvReaderOptions> = {},
  sizes: readonly number[] = [],
): Seen & { reader: CsvReader } {
  const { handler, seen } = collector();
  const reader = createCsvReader(handler, { input: 'test.csv', maxRecordBytes: 1 << 20, ...options });
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  for (const chunk of chunksOf(bytes, sizes)) reader.push(chunk);
  reader.end();
  return { ...seen, reader };
}

const texts = (seen: Seen): string[] => seen.records.map((r) => r.data.toString());
const summary = (seen: Seen) => ({
  records: seen.records.map((r) => [r.record, r.line, r.data.toString()]),
  bad: seen.bad.map((b) => [b.record, b.line, b.reason, b.raw.toString(), b.size]),
  skipped: seen.skipped,
});

/** Chunk sizes: down to single bytes, which split multi-byte characters and CRLF pairs. */
const chunkSizes = fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 8 });

describe('createCsvReader framing', () => {
  const fieldUnit = fc.constantFrom('a', 'Z', '7', ' ', '.', ',', '"', '\r', '\n', 'é', '😀');
  const field = fc.string({ unit: fieldUnit, maxLength: 6 });
  const row = fc.record({
    fields: fc.array(field, { minLength: 1, maxLength: 5 }),
    quoteAll: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    crlf: fc.boolean(),
    emptyBefore: fc.array(fc.boolean(), { maxLength: 2 }),
  });

  function serialise(fields: readonly string[], quote: readonly boolean[]): string {
    return fields
      .map((f, i) => {
        const lone = fields.length === 1 && f === '';
        return lone || quote[i] === true || /[",\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f;
      })
      .join(',');
  }

  it('reads back RFC 4180 text as the same records, numbers and lines, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.boolean(), { maxLength: 2 }),
        chunkSizes,
        (rows, finalEnding, emptyAfter, sizes) => {
          let text = '';
          let line = 1;
          const expected: { text: string; fields: string[]; line: number }[] = [];
          const skipped: number[] = [];
          rows.forEach((r, i) => {
            for (const crlf of r.emptyBefore) {
              text += crlf ? '\r\n' : '\n';
              skipped.push(line++);
            }
            const serialised = serialise(r.fields, r.quoteAll);
            expected.push({ text: serialised, fields: r.fields, line });
            text += serialised;
            line += serialised.split('\n').length - 1;
            if (i < rows.length - 1 || finalEnding) {
              text += r.crlf ? '\r\n' : '\n';
              line++;
            }
          });
          if (finalEnding || rows.length === 0) {
            for (const crlf of emptyAfter) {
              text += crlf ? '\r\n' : '\n';
              skipped.push(line++);
            }
          }

          const seen = read(text, {}, sizes);
          expect(seen.bad).toEqual([]);
          expect(seen.skipped).toEqual(skipped);
          expect(seen.records.map((r) => [r.record, r.line, r.data.toString()])).toEqual(
            expected.map((e, i) => [i + 1, e.line, e.text]),
          );
          seen.records.forEach((r, i) => {
            expect(parseCsvFields(r.data)).toEqual(expected[i]?.fields);
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('passes a record wholly inside one chunk as a view of that chunk', () => {
    const chunk = Buffer.from('a,b\r\n"x\ny",2\n');
    const views: Buffer[] = [];
    const reader = createCsvReader(
      { onRecord: (data) => views.push(data), onBadRecord: () => {}, onSkipped: () => {} },
      { input: 'test.csv', maxRecordBytes: 100 },
    );
    reader.push(chunk);
    reader.end();
    expect(views.map((v) => v.toString())).toEqual(['a,b', '"x\ny",2']);
    for (const view of views) expect(view.buffer).toBe(chunk.buffer);
    expect(views.map((v) => v.byteOffset - chunk.byteOffset)).toEqual([0, 5]);
  });

  it('treats zero-byte and "\\r"-only lines as skipped, not records', () => {
    const seen = read('\n\r\na\n\r\n\n"b"\r\n\r');
    expect(summary(seen)).toEqual({
      records: [
        [1, 3, 'a'],
        [2, 6, '"b"'],
      ],
      bad: [],
      skipped: [1, 2, 4, 5, 7],
    });
  });

  it('keeps a quoted field holding only an empty string as a record', () => {
    expect(texts(read('""\n"",""\n'))).toEqual(['""', '"",""']);
  });

  it('drops a UTF-8 byte order mark at the start of the input, even when split', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('"a",b\nc\n')]);
    for (const sizes of [[], [1], [2], [4]]) {
      const seen = read(bytes, {}, sizes);
      expect(summary(seen).records).toEqual([
        [1, 1, '"a",b'],
        [2, 2, 'c'],
      ]);
    }
    expect(texts(read(Buffer.from([0xef, 0xbb])))).toEqual([]);
    expect(read(Buffer.from([0xef, 0x41])).bad.map((b) => b.reason)).toEqual(['invalid UTF-8']);
  });

  it('throws when data is pushed after the end', () => {
    const reader = createCsvReader(collector().handler, { input: 'test.csv', maxRecordBytes: 10 });
    reader.end();
    expect(() => reader.push(Buffer.from('a'))).toThrow(/after the end/);
  });

  it('rejects a maxRecordBytes that is not a positive integer', () => {
    expect(() => createCsvReader(collector().handler, { input: 'x.csv', maxRecordBytes: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('createCsvReader bad records', () => {
  it('quarantines invalid UTF-8 with its line and reads its neighbours', () => {
    const bytes = Buffer.concat([
      Buffer.from('a,b\n\n'),
      Buffer.from([0x78, 0x2c, 0xff, 0xfe]),
      Buffer.from('\r\n"\n'),
      Buffer.from([0xc3]),
      Buffer.from('"\nc,d'),
    ]);
    for (const sizes of [[], [1], [3]]) {
      const seen = read(bytes, {}, sizes);
      expect(seen.records.map((r) => [r.record, r.line, r.data.toString()])).toEqual([
        [1, 1, 'a,b'],
        [4, 6, 'c,d'],
      ]);
      expect(seen.bad.map((b) => [b.record, b.line, b.reason, b.raw.length, b.size])).toEqual([
        [2, 3, 'invalid UTF-8', 4, 4],
        [3, 4, 'invalid UTF-8', 4, 4],
      ]);
      expect(seen.bad[0]?.raw).toEqual(Buffer.from([0x78, 0x2c, 0xff, 0xfe]));
    }
  });

  it('checks UTF-8 in lines read again after a recovery', () => {
    const { handler, seen } = collector();
    const reader = createCsvReader(handler, { input: 'test.csv', maxRecordBytes: 12 });
    reader.push(Buffer.from('"a\nb,c\n'));
    reader.push(Buffer.concat([Buffer.from([0xff]), Buffer.from('\nzzzzzzzzzz\n')]));
    reader.end();
    expect(summary(seen)).toEqual({
      records: [
        [2, 2, 'b,c'],
        [4, 4, 'zzzzzzzzzz'],
      ],
      bad: [
        [1, 1, 'unterminated quoted field', '"a', 2],
        [3, 3, 'invalid UTF-8', '\ufffd', 1],
      ],
      skipped: [],
    });
  });

  it('reports a stray quote in an unquoted field on its line', () => {
    const seen = read('1,2\na,b"c,d\n3,4\n', {}, [2]);
    expect(summary(seen)).toEqual({
      records: [
        [1, 1, '1,2'],
        [3, 3, '3,4'],
      ],
      bad: [[2, 2, 'quote inside unquoted field', 'a,b"c,d', 7]],
      skipped: [],
    });
  });

  it('reports text after a closing quote on its line', () => {
    for (const input of ['"a"x,b\nc\n', '"a" ,b\nc\n', '"a"\r\r\nc\n', 'z,"a""b"x\nc\n']) {
      for (const sizes of [[], [1]]) {
        const seen = read(input, {}, sizes);
        expect(seen.bad.map((b) => [b.record, b.line, b.reason])).toEqual([
          [1, 1, 'text after closing quote'],
        ]);
        expect(summary(seen).records).toEqual([[2, 2, 'c']]);
      }
    }
  });

  it('accepts CRLF after a closing quote even when the CR ends a chunk', () => {
    const seen = read('"a"\r\n"b","c"\r\n', {}, [4]);
    expect(texts(seen)).toEqual(['"a"', '"b","c"']);
    expect(seen.bad).toEqual([]);
  });

  describe('unterminated quoted field', () => {
    const input = 'id,v\n1,"open\n2,ok\n3,"x,y"\n\n4,\r\n';

    it('reports only the line where the record started and reads every following record', () => {
      for (const sizes of [[], [1], [2], [5], [7, 1, 3]]) {
        const seen = read(input, {}, sizes);
        expect(summary(seen)).toEqual({
          records: [
            [1, 1, 'id,v'],
            [3, 3, '2,ok'],
            [4, 4, '3,"x,y"'],
            [5, 6, '4,'],
          ],
          bad: [[2, 2, 'unterminated quoted field', '1,"open', 7]],
          skipped: [5],
        });
      }
    });

    it('recovers when the input ends inside a quoted field on the last line', () => {
      expect(summary(read('a\n"b\r\n'))).toEqual({
        records: [[1, 1, 'a']],
        bad: [[2, 2, 'unterminated quoted field', '"b', 2]],
        skipped: [],
      });
      expect(summary(read('a\n"b')).bad).toEqual([[2, 2, 'unterminated quoted field', '"b', 2]]);
    });

    it('recovers when a quoted record spanning lines grows past maxRecordBytes', () => {
      const after = Array.from({ length: 40 }, (_, i) => `${i},row${i}`);
      const text = `h\n1,"open\n${after.join('\n')}\n`;
      for (const sizes of [[], [1], [13], [64]]) {
        const seen = read(text, { maxRecordBytes: 30 }, sizes);
        expect(seen.bad.map((b) => [b.record, b.line, b.reason, b.raw.toString()])).toEqual([
          [2, 2, 'unterminated quoted field', '1,"open'],
        ]);
        expect(texts(seen)).toEqual(['h', ...after]);
        expect(seen.records.map((r) => r.line)).toEqual(after.map((_, i) => i + 3).toSpliced(0, 0, 1));
      }
    });

    it('recovers when a multi-line record turns out malformed after its closing quote', () => {
      const seen = read('1,"abc\n2,"x"\n3,4\n', {}, [3]);
      expect(summary(seen)).toEqual({
        records: [
          [2, 2, '2,"x"'],
          [3, 3, '3,4'],
        ],
        bad: [[1, 1, 'unterminated quoted field', '1,"abc', 6]],
        skipped: [],
      });
    });

    it('reads every record after a stray opening quote whatever the chunking', () => {
      const good = fc.array(fc.stringMatching(/^[a-z0-9]{1,4}(,[a-z0-9 ]{0,4}){0,3}$/), { maxLength: 15 });
      fc.assert(
        fc.property(
          good,
          good,
          fc.boolean(),
          chunkSizes,
          fc.integer({ min: 40, max: 200 }),
          (before, after, ending, sizes, max) => {
            const lines = [...before, 'x,"never closed', ...after];
            const seen = read(lines.join('\n') + (ending ? '\n' : ''), { maxRecordBytes: max }, sizes);
            expect(seen.bad.map((b) => [b.record, b.line, b.reason])).toEqual([
              [before.length + 1, before.length + 1, 'unterminated quoted field'],
            ]);
            expect(texts(seen)).toEqual([...before, ...after]);
            expect(seen.records.map((r) => r.line)).toEqual(
              lines.map((_, i) => i + 1).filter((l) => l !== before.length + 1),
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});

/**
 * The framing rules written plainly, one character at a time over whole lines, without limits: the
 * reader must agree with it on any text.
 */
function referenceRead(text: string): ReturnType<typeof summary> {
  const lines = text === '' ? [] : text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  const out: ReturnType<typeof summary> = { records: [], bad: [], skipped: [] };
  const strip = (l: string) => (l.endsWith('\r') ? l.slice(0, -1) : l);
  let record = 0;
  let i = 0;
  while (i < lines.length) {
    let state: 'field' | 'unquoted' | 'quoted' | 'quote' | 'invalid' = 'field';
    let reason = '';
    let j = i;
    for (;;) {
      for (const ch of strip(lines[j] ?? '')) {
        if (state === 'field') state = ch === '"' ? 'quoted' : ch === ',' ? 'field' : 'unquoted';
        else if (state === 'unquoted') {
          if (ch === '"') [state, reason] = ['invalid', 'quote inside unquoted field'];
          else if (ch === ',') state = 'field';
        } else if (state === 'quoted') {
          if (ch === '"') state = 'quote';
        } else if (state === 'quote') {
          if (ch === '"') state = 'quoted';
          else if (ch === ',') state = 'field';
          else [state, reason] = ['invalid', 'text after closing quote'];
        }
      }
      if (state !== 'quoted' || j + 1 >= lines.length) break;
      j++;
    }
    if (j > i && (state === 'quoted' || state === 'invalid')) {
      const bad = strip(lines[i] ?? '');
      out.bad.push([++record, i + 1, 'unterminated quoted field', bad, Buffer.byteLength(bad)]);
      i++;
      continue;
    }
    const data = strip(lines.slice(i, j + 1).join('\n'));
    if (state === 'quoted') reason = 'unterminated quoted field';
    if (state === 'invalid' || state === 'quoted')
      out.bad.push([++record, i + 1, reason, data, Buffer.byteLength(data)]);
    else if (data === '') out.skipped.push(i + 1);
    else out.records.push([++record, i + 1, data]);
    i = j + 1;
  }
  return out;
}

describe('createCsvReader on any text', () => {
  const unit = fc.constantFrom('a', 'b', ',', '"', '"', '\r', '\n', '\n', ' ', 'é');

  it('agrees with the plain reference, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 80 }), chunkSizes, (text, sizes) => {
        expect(summary(read(text, {}, sizes))).toEqual(referenceRead(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same outcome for every chunking, with any limit', () => {
    const bytes = fc
      .array(fc.oneof(fc.constantFrom(...Buffer.from('ab,""\r\n\n ')), fc.constantFrom(0xc3, 0xa9, 0xff)), {
        maxLength: 120,
      })
      .map((b) => Buffer.from(b));
    fc.assert(
      fc.property(bytes, chunkSizes, fc.integer({ min: 1, max: 40 }), (input, sizes, max) => {
        const whole = read(input, { maxRecordBytes: max });
        const chunked = read(input, { maxRecordBytes: max }, sizes);
        expect(summary(chunked)).toEqual(summary(whole));
        for (const r of whole.records) expect(r.data.length).toBeLessThanOrEqual(max);
        for (const b of whole.bad) expect(b.raw.length).toBeLessThanOrEqual(Math.min(b.size, RAW_KEEP_BYTES));
        // Every physical line starts a record, is skipped, or belongs to the record before it.
        const starts = [
          ...whole.records.map((r) => r.line),
          ...whole.bad.map((b) => b.line),
          ...whole.skipped,
        ];
        expect(new Set(starts).size).toBe(starts.length);
        expect(
          [...whole.records.map((r) => r.record), ...whole.bad.map((b) => b.record)].sort((x, y) => x - y),
        ).toEqual(Array.from({ length: whole.records.length + whole.bad.length }, (_, k) => k + 1));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('createCsvReader maxRecordBytes', () => {
  it('quarantines a record over the limit with its size, and reads its neighbours', () => {
    const big = 'x'.repeat(100);
    for (const sizes of [[], [1], [7], [64]]) {
      const seen = read(`short\n${big}\r\nok\n`, { maxRecordBytes: 10 }, sizes);
      expect(summary(seen)).toEqual({
        records: [
          [1, 1, 'short'],
          [3, 3, 'ok'],
        ],
        bad: [[2, 2, 'record is 100 bytes, over the request limit of 10 bytes (maxPayloadInMB)', big, 100]],
        skipped: [],
      });
    }
  });

  it('accepts a record of exactly the limit, its line ending not counted', () => {
    const seen = read('1234567890\r\n12345678901\n', { maxRecordBytes: 10 }, [3]);
    expect(texts(seen)).toEqual(['1234567890']);
    expect(seen.bad.map((b) => [b.record, b.line, b.size])).toEqual([[2, 2, 11]]);
  });

  it('keeps only the first RAW_KEEP_BYTES bytes of an oversize record', () => {
    const big = `${'y'.repeat(RAW_KEEP_BYTES)}${'z'.repeat(3 * RAW_KEEP_BYTES)}`;
    for (const sizes of [[], [1000]]) {
      const seen = read(`${big}\nnext`, { maxRecordBytes: RAW_KEEP_BYTES + 10 }, sizes);
      expect(seen.bad).toHaveLength(1);
      expect(seen.bad[0]?.raw.toString()).toBe('y'.repeat(RAW_KEEP_BYTES));
      expect(seen.bad[0]?.size).toBe(big.length);
      expect(seen.bad[0]?.reason).toBe(
        `record is ${big.length} bytes, over the request limit of ${RAW_KEEP_BYTES + 10} bytes (maxPayloadInMB)`,
      );
      expect(summary(seen).records).toEqual([[2, 2, 'next']]);
    }
  });

  it('follows the quotes of an oversize record to find where it ends', () => {
    const text = `"a\nb",${'w'.repeat(50)},"c\nd"\nok\n`;
    for (const sizes of [[], [1], [9]]) {
      const seen = read(text, { maxRecordBytes: 20 }, sizes);
      expect(seen.bad.map((b) => [b.record, b.line, b.size])).toEqual([[1, 1, text.length - 4]]);
      expect(summary(seen).records).toEqual([[2, 4, 'ok']]);
    }
  });

  it('ends an oversize record before the line an unterminated quote runs onto', () => {
    const text = `${'w'.repeat(50)},"open\nnext,1\nlast,2\n`;
    for (const sizes of [[], [1], [9]]) {
      for (const max of [20, 100]) {
        const seen = read(text, { maxRecordBytes: max }, sizes);
        expect(seen.bad.map((b) => [b.record, b.line])).toEqual([[1, 1]]);
        expect(summary(seen).records).toEqual([
          [2, 2, 'next,1'],
          [3, 3, 'last,2'],
        ]);
      }
    }
  });

  it('never holds more than about maxRecordBytes of a huge record', () => {
    let held = 0;
    const handler: RecordHandler = {
      onRecord: () => {},
      onBadRecord: (bad) => {
        held = bad.raw.length;
      },
      onSkipped: () => {},
    };
    const reader = createCsvReader(handler, { input: 'huge.csv', maxRecordBytes: 1000 });
    const chunk = Buffer.alloc(1 << 16, 0x61);
    for (let i = 0; i < 256; i++) reader.push(chunk);
    reader.push(Buffer.from('\nb\n'));
    reader.end();
    expect(held).toBeLessThanOrEqual(RAW_KEEP_BYTES);
  });
});

describe('createCsvReader header', () => {
  it('does not pass the header as a record and numbers records after it', () => {
    for (const sizes of [[], [1]]) {
      const seen = read('\nname,"a,ge"\r\n"x",1\ny,2', { header: true }, sizes);
      expect(seen.reader.header()).toEqual(['name', 'a,ge']);
      expect(summary(seen)).toEqual({
        records: [
          [1, 3, '"x",1'],
          [2, 4, 'y,2'],
        ],
        bad: [],
        skipped: [1],
      });
    }
  });

  it('has the header before the first record is passed', () => {
    const headers: (string[] | undefined)[] = [];
    const reader: CsvReader = createCsvReader(
      {
        onRecord: () => headers.push(reader.header()),
        onBadRecord: () => {},
        onSkipped: () => {},
      },
      { input: 'test.csv', maxRecordBytes: 100, header: true },
    );
    expect(reader.header()).toBeUndefined();
    reader.push(Buffer.from('a,b\n1,2\n'));
    reader.end();
    expect(headers).toEqual([['a', 'b']]);
  });

  it('treats the first line as data without the header option', () => {
    const seen = read('a,b\n1,2\n');
    expect(seen.reader.header()).toBeUndefined();
    expect(texts(seen)).toEqual(['a,b', '1,2']);
  });

  it('reports a header that cannot be read as record 0', () => {
    const seen = read('a,"b\n1,2\n', { header: true });
    expect(seen.reader.header()).toBeUndefined();
    expect(seen.bad.map((b) => [b.record, b.line, b.reason])).toEqual([
      [0, 1, 'header: unterminated quoted field'],
    ]);
    expect(summary(seen).records).toEqual([[1, 2, '1,2']]);
  });
});
