import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeFloat32 } from '../../../src/local/model-server/format.ts';
import { JsonBytes } from '../../../src/local/model-server/json-bytes.ts';

/** One float32 as the model server writes it into an answer. */
function formatFloat32(v: number): string {
  const out = new JsonBytes();
  writeFloat32(out, v);
  return new TextDecoder().decode(out.finish());
}

/** TFS's rule written the slow, obvious way: 6 significant digits if they read back, else 9. */
function reference(v: number): number {
  if (v === 0) return v;
  const six = Number(v.toPrecision(6));
  return Math.fround(six) === v ? six : Number(v.toPrecision(9));
}

describe('formatFloat32', () => {
  it('writes floats as TensorFlow Serving does', () => {
    const cases: [number, string][] = [
      [0.1, '0.1'],
      [0.5, '0.5'],
      [3, '3.0'],
      [-42, '-42.0'],
      [100000, '100000.0'],
      [1e6, '1e+06'],
      [123456792, '123456792.0'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [2.5e-10, '2.5e-10'],
      [9.99999905, '9.99999905'],
      [0.999825895, '0.999825895'],
      [1e30, '1e+30'],
      [3.4028234663852886e38, '3.40282347e+38'],
      [1.401298464324817e-45, '1.4013e-45'],
      [1.1754942106924411e-38, '1.17549421e-38'],
    ];
    for (const [value, text] of cases) expect(formatFloat32(Math.fround(value))).toBe(text);
  });

  it('writes zeros, NaN and infinities as TFS does', () => {
    expect(formatFloat32(0)).toBe('0.0');
    expect(formatFloat32(-0)).toBe('-0.0');
    expect(formatFloat32(Number.NaN)).toBe('NaN');
    expect(formatFloat32(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(formatFloat32(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });

  it('gives text that reads back as the same float32, with the digits TFS would choose', () => {
    fc.assert(
      fc.property(fc.float({ noDefaultInfinity: true, noNaN: true }), (v) => {
        const text = formatFloat32(v);
        expect(Math.fround(Number(text))).toBe(v);
        expect(Number(text)).toBe(reference(v));
      }),
      { numRuns: 20_000 },
    );
  });

  it('finds the power of ten of the floats next to every power of ten', () => {
    const bits = new Float32Array(1);
    const word = new Uint32Array(bits.buffer);
    for (let k = -45; k <= 38; k++) {
      bits[0] = 10 ** k;
      const near = word[0] ?? 0;
      for (let step = -2; step <= 2; step++) {
        word[0] = near + step;
        const v = bits[0] ?? 0;
        if (!Number.isFinite(v) || v === 0) continue;
        expect(Number(formatFloat32(v)), `${v}`).toBe(reference(v));
      }
    }
  });
});
