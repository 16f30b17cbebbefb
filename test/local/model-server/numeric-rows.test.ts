import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readNumericRows } from '../../../src/local/model-server/numeric-rows.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
/** Values to compare, -0 told apart from 0. */
const signed = (values: ArrayLike<number>) => Array.from(values, (v) => (Object.is(v, -0) ? '-0' : v));

/** Numbers written the ways JSON allows, and the ways records in the wild write them. */
const numberText = fc
  .oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((x) => x.toFixed(4)),
    fc
      .tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 20 }))
      .map(([x, digits]) => x.toExponential(digits)),
    fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => String(x)),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => n.toString()),
  )
  .filter((text) => Number.isFinite(Number(text)));

describe('readNumericRows', () => {
  it('gives the same float32 values as JSON.parse, for every way of writing the numbers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((width) =>
          fc.array(fc.array(numberText, { minLength: width, maxLength: width }), {
            minLength: 2,
            maxLength: 8,
          }),
        ),
        fc.constantFrom('\n', '\r\n'),
        (rows, newline) => {
          const body = rows.map((row) => `[${row.join(', ')}]`).join(newline);
          const expected = Float32Array.from(
            rows.flatMap((row) => JSON.parse(`[${row.join(',')}]`) as number[]),
          );
          // The width unknown, then known (as a model with a fixed input width makes it).
          for (const width of [undefined, rows[0]?.length]) {
            const read = readNumericRows(bytes(body), width);
            expect(read?.rows).toBe(rows.length);
            expect(signed(read?.data ?? [])).toEqual(signed(expected));
          }
        },
      ),
    );
  });

  it('reads rows of the model input width, blank lines and spaces aside', () => {
    const read = readNumericRows(bytes('[1, 2.5]\n\n  [-3e2,4]  \r\n[0.125,-0]\n'), 2);
    expect(read?.rows).toBe(3);
    expect([...(read?.data ?? [])]).toEqual([1, 2.5, -300, 4, 0.125, -0]);
  });

  it('leaves everything else to the general reader', () => {
    for (const body of [
      '[1,2]', // a lone line is a whole request in the TFS container
      '[1,2]\n[3]', // ragged
      '[1,2]\n[3,4,5]',
      '{"a":1}\n{"a":2}',
      '[[1,2]]\n[[3,4]]',
      '[1,2] [3,4]\n[5,6]',
      '[1,"2"]\n[3,4]',
      '[01,2]\n[3,4]',
      '[1.,2]\n[3,4]',
      '[1e,2]\n[3,4]',
      '[1,2,]\n[3,4]',
      '[]\n[]',
      '[1e999,2]\n[3,4]',
      '[1,2]\n[3,4',
    ]) {
      expect(readNumericRows(bytes(body), undefined), body).toBeUndefined();
      expect(readNumericRows(bytes(body), 2), body).toBeUndefined();
    }
    expect(readNumericRows(bytes('[1,2]\n[3,4]'), 3)).toBeUndefined();
  });
});
