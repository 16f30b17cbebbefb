/**
 * float32 values written as TensorFlow Serving writes them in its JSON answers: `%g` (6 significant
 * digits) when that reads back as the same float32, otherwise `%.9g`, which always does; `.0` after a
 * whole number; NaN and Infinity bare, as TFS does. This runs for every number of every prediction, so
 * the digits come from integer arithmetic on the double, written straight into the answer's bytes.
 */
import { DOT, LOWER_E, MINUS, PLUS, ZERO } from './ascii.ts';
import type { JsonBytes } from './json-bytes.ts';

const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);
/** The most bytes one float32 takes: `-1.23456789e-38`. */
const MAX_FLOAT32_BYTES = 16;

/** x · 10^k, exact in the powers used: 10^k is a double exactly up to 10^22. */
function scaled(x: number, k: number): number {
  return k >= 0 ? x * (POW10[k] ?? 0) : x / (POW10[-k] ?? 1);
}

const LOG10_2 = Math.log10(2);
const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** The significant digits of one number, least significant first, reused from number to number. */
const digitsOf = new Uint8Array(10);

export function writeFloat32(out: JsonBytes, v: number): void {
  if (v === 0 || !Number.isFinite(v)) {
    out.text(specialText(v));
    return;
  }
  const x = Math.abs(v);
  let digits: number;
  let exponent: number;
  let precision: number;
  // The power of ten from the binary exponent, which is at most one too low: cheaper than Math.log10.
  float32[0] = x;
  exponent = Math.floor((((float32Bits[0] as number) >>> 23) - 127) * LOG10_2);
  if (exponent >= -13 && exponent <= 13) {
    let m9 = Math.round(scaled(x, 8 - exponent));
    // The digit count says when the power is one off.
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
  // At most 9 digits: whole int32 arithmetic from here, far cheaper than on doubles.
  let rest = digits | 0;
  while (rest % 10 === 0) rest = (rest / 10) | 0;
  let count = 0;
  do {
    const next = (rest / 10) | 0;
    digitsOf[count++] = rest - next * 10;
    rest = next;
  } while (rest > 0);
  const at = out.reserve(MAX_FLOAT32_BYTES);
  const end = layout(out.buffer, v < 0 ? at + 1 : at, count, exponent, precision);
  if (v < 0) out.buffer[at] = MINUS;
  out.advance(end - at);
}

/** Zeros, NaN and the infinities, as TFS writes them. */
function specialText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  return v > 0 ? 'Infinity' : '-Infinity';
}

/**
 * C's %g layout for the `count` significant digits in `digitsOf` (no trailing zeros) whose first digit
 * has weight 10^exponent, written into `bytes` from `at`; returns where it ends.
 */
function layout(bytes: Uint8Array, at: number, count: number, exponent: number, precision: number): number {
  let i = at;
  let next = count - 1;
  if (exponent < -4 || exponent >= precision) {
    bytes[i++] = ZERO + (digitsOf[next--] ?? 0);
    if (next >= 0) bytes[i++] = DOT;
    while (next >= 0) bytes[i++] = ZERO + (digitsOf[next--] ?? 0);
    bytes[i++] = LOWER_E;
    bytes[i++] = exponent < 0 ? MINUS : PLUS;
    const magnitude = Math.abs(exponent);
    if (magnitude >= 10) bytes[i++] = ZERO + Math.floor(magnitude / 10);
    else bytes[i++] = ZERO;
    bytes[i++] = ZERO + (magnitude % 10);
    return i;
  }
  if (exponent < 0) {
    bytes[i++] = ZERO;
    bytes[i++] = DOT;
    for (let k = -exponent - 1; k > 0; k--) bytes[i++] = ZERO;
    while (next >= 0) bytes[i++] = ZERO + (digitsOf[next--] ?? 0);
    return i;
  }
  // exponent + 1 digits before the point, padded with zeros; `.0` after a whole number.
  for (let k = 0; k <= exponent; k++) bytes[i++] = next >= 0 ? ZERO + (digitsOf[next--] ?? 0) : ZERO;
  bytes[i++] = DOT;
  if (next < 0) bytes[i++] = ZERO;
  while (next >= 0) bytes[i++] = ZERO + (digitsOf[next--] ?? 0);
  return i;
}
