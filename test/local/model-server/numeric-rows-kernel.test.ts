import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSimpleRows } from '../../../src/local/model-server/numeric-rows-kernel.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const signed = (values: ArrayLike<number>) => Array.from(values, (v) => (Object.is(v, -0) ? '-0' : v));

/** Numbers as records write them, within what the kernel reads itself: 15 digits, powers within ±22. */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((x) => x.toFixed(4)),
  fc
    .float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e15), max: Math.fround(1e15) })
    .filter((x) => Math.abs(x) > 1e-12)
    .map((x) => x.toPrecision(9)),
  fc.integer().map(String),
  fc
    .tuple(fc.integer({ min: -99_999, max: 99_999 }), fc.integer({ min: -17, max: 17 }))
    .map(([m, e]) => `${m}e${e}`),
  fc.constantFrom('0', '-0', '0.0', '-0.000', '1E5', '2e+3', '0.000001'),
);

describe('readSimpleRows', () => {
  it('reads rows of numbers as JSON.parse and float32 do', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }).chain((width) =>
          fc.array(fc.array(numberText, { minLength: width, maxLength: width }), {
            minLength: 2,
            maxLength: 20,
          }),
        ),
        fc.constantFrom(',', ', ', ' ,\t'),
        fc.constantFrom('\n', '\r\n', '\n\n', '\n'),
        (rows, comma, newline) => {
          const body = rows.map((row) => `[${row.join(comma)}]`).join(newline) + newline;
          const read = readSimpleRows(bytes(body), rows[0]?.length ?? 0);
          const expected = Float32Array.from(rows.flatMap((row) => JSON.parse(`[${row.join(',')}]`)));
          expect(read?.rows).toBe(rows.length);
          expect(signed(read?.data ?? [])).toEqual(signed(expected));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('leaves what it does not read itself to the JavaScript reader', () => {
    for (const body of [
      '[1,2]', // one row
      '[1,2]\n[3]',
      '[1,2]\n[3,4,5]',
      '{"a":1}\n{"a":2}',
      '[1,2] [3,4]\n[5,6]',
      '[01,2]\n[3,4]',
      '[1.,2]\n[3,4]',
      '[-,2]\n[3,4]',
      '[1e,2]\n[3,4]',
      '[1,2,]\n[3,4]',
      '[]\n[]',
      '[1,2]\n[3,4',
      '[1e23,2]\n[3,4]', // a power of ten past 22
      '[1234567890123456,2]\n[3,4]', // 16 significant digits
    ]) {
      expect(readSimpleRows(bytes(body), 2), body).toBeUndefined();
    }
  });

  it('reads bodies of any size, one after another', () => {
    const row = `[${Array.from({ length: 64 }, (_, k) => (k / 7).toFixed(5)).join(',')}]\n`;
    for (const count of [3, 20_000, 2]) {
      const read = readSimpleRows(bytes(row.repeat(count)), 64);
      expect(read?.rows).toBe(count);
      expect(read?.data[64 * count - 1]).toBe(
        Math.fround(63 / 7 + 0) === read?.data[63] ? read?.data[63] : NaN,
      );
    }
  });
});
