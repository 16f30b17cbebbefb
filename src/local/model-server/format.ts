/**
 * float32 values written as TensorFlow Serving writes them in its JSON answers: `%g` (6 significant
 * digits) when that reads back as the same float32, otherwise `%.9g`, which always does; `.0` after a
 * whole number; NaN and Infinity bare, as TFS does. This runs for every number of every prediction, so
 * the digits come from integer arithmetic on the double instead of from toPrecision.
 */

const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** x · 10^k, exact in the powers used: 10^k is a double exactly up to 10^22. */
function scaled(x: number, k: number): number {
  return k >= 0 ? x * (POW10[k] ?? 0) : x / (POW10[-k] ?? 1);
}

export function formatFloat32(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  const x = Math.abs(v);
  let digits: number;
  let exponent: number;
  let precision: number;
  exponent = Math.floor(Math.log10(x));
  if (exponent >= -13 && exponent <= 13) {
    let m9 = Math.round(scaled(x, 8 - exponent));
    // log10 can be off by one next to a power of ten; the digit count says so.
    if (m9 >= 1e9) m9 = Math.round(scaled(x, 8 - ++exponent));
    else if (m9 < 1e8) m9 = Math.round(scaled(x, 8 - --exponent));
    const m6 = Math.round(scaled(x, 5 - exponent));
    if (Math.fround(scaled(m6, exponent - 5)) === x) {
      precision = 6;
      digits = m6;
      if (digits >= 1e6) {
        digits /= 10;
        exponent++;
      }
    } else {
      precision = 9;
      digits = m9;
    }
  } else {
    // Far from 1 the powers of ten are inexact: let the runtime round.
    let text = x.toExponential(5);
    precision = 6;
    if (Math.fround(Number(text)) !== x) {
      text = x.toExponential(8);
      precision = 9;
    }
    const e = text.indexOf('e');
    digits = Number(text.slice(0, e).replace('.', ''));
    exponent = Number(text.slice(e + 1));
  }
  while (digits % 10 === 0) digits /= 10;
  const text = render(String(digits), exponent, precision);
  return v < 0 ? `-${text}` : text;
}

/** C's %g layout for the significant `digits` (no trailing zeros) whose first digit has weight 10^exponent. */
function render(digits: string, exponent: number, precision: number): string {
  if (exponent < -4 || exponent >= precision) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const magnitude = Math.abs(exponent);
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
  }
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  return `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}
