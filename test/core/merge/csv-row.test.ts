import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCsvRow } from '../../../src/core/merge/csv-row.ts';
import { createCsvReader } from '../../../src/core/records/csv.ts';
import { parseCsvFields } from '../../../src/core/records/csv-instances.ts';
import { chunksOf, collector, type Seen } from '../../support/records.ts';

/** What the CSV reader makes of the text, pushed one byte at a time. */
function readCsv(text: string): Seen {
  const { handler, seen } = collector();
  const reader = createCsvReader(handler, { input: 'rows.csv', maxRecordBytes: 1 << 20 });
  for (const chunk of chunksOf(Buffer.from(text), [1])) reader.push(chunk);
  reader.end();
  return seen;
}

describe('toCsvRow', () => {
  it('quotes only what needs quoting and flattens arrays and objects', () => {
    expect(
      toCsvRow([
        1,
        'a,b',
        'say "hi"',
        null,
        true,
        [2.5, [3, []]],
        { x: -1, y: 'z', n: [4, 5] },
        'l\nb',
        'c\r',
        ' s ',
      ]),
    ).toBe('1,"a,b","say ""hi""",,true,2.5,3,-1,z,4,5,"l\nb","c\r", s ');
    expect(toCsvRow([undefined, false, 10n])).toBe(',false,10');
    expect(toCsvRow([])).toBe('');
  });

  it('writes a lone empty cell as "" so the line is not empty', () => {
    expect(toCsvRow([''])).toBe('""');
    expect(toCsvRow([null])).toBe('""');
    expect(toCsvRow([[''], []])).toBe('""');
  });

  it('writes rows that read back as the same fields', () => {
    const cell = fc.string({
      unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '😀'),
      maxLength: 6,
    });
    fc.assert(
      fc.property(fc.array(cell, { minLength: 1, maxLength: 6 }), (cells) => {
        const seen = readCsv(`${toCsvRow(cells)}\n`);
        expect(seen.bad).toEqual([]);
        expect(seen.records.map((r) => parseCsvFields(r.data))).toEqual([cells]);
      }),
    );
  });
});
