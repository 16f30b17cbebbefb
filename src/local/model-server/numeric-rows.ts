/**
 * The common request of a batch transform, read fast: JSON Lines whose every line is a flat list of
 * numbers, for a model with one vector input. The numbers go straight from the bytes into the input
 * tensor, without JSON arrays in between. Anything else (objects, nesting, a lone line, a malformed
 * or odd number) is left to the general reader, which also words the errors: this only speeds up
 * requests that read correctly either way, and gives the same numbers as JSON.parse. When the
 * model fixes the width, a WebAssembly kernel reads the usual rows (numeric-rows-kernel.ts); the
 * reader here takes what it leaves.
 */

import {
  CLOSE_BRACKET,
  COMMA,
  CR,
  DOT,
  LF,
  MINUS,
  NINE,
  OPEN_BRACKET,
  PLUS,
  SPACE,
  TAB,
  ZERO,
} from './ascii.ts';
import { readSimpleRows } from './numeric-rows-kernel.ts';

const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);

export interface NumericRows {
  readonly rows: number;
  readonly width: number;
  readonly data: Float32Array;
}

/**
 * The rows of `body`, each `width` numbers long (taken from the first line when undefined), or
 * undefined when the body is not two or more such lines.
 */
export function readNumericRows(body: Uint8Array, width: number | undefined): NumericRows | undefined {
  // A lone line (every request of a SingleRecord job) is never two rows: neither reader need look.
  const lineEnd = body.indexOf(LF);
  if (lineEnd === -1 || lineEnd === body.length - 1) return undefined;
  const simple = width === undefined ? undefined : readSimpleRows(body, width);
  if (simple) return simple;
  const reader = new RowReader(body);
  let columns = width;
  let data: Float32Array | undefined;
  let rows = 0;
  while (reader.skipBlank()) {
    if (data === undefined) {
      const first = reader.readRow(new Float32Array(columns ?? 4096), columns);
      if (first === undefined || first.length === 0) return undefined;
      columns = first.length;
      data = new Float32Array(columns * (countLines(body) + 1));
      data.set(first);
    } else {
      if (columns === undefined || (rows + 1) * columns > data.length) return undefined;
      const row = reader.readRow(data.subarray(rows * columns, (rows + 1) * columns), columns);
      if (row === undefined) return undefined;
    }
    rows++;
  }
  if (rows < 2 || data === undefined || columns === undefined) return undefined;
  return { rows, width: columns, data: data.subarray(0, rows * columns) };
}

function countLines(body: Uint8Array): number {
  let count = 0;
  for (let at = body.indexOf(LF); at >= 0; at = body.indexOf(LF, at + 1)) count++;
  return count;
}

class RowReader {
  private readonly body: Uint8Array;
  private at = 0;

  constructor(body: Uint8Array) {
    this.body = body;
  }

  /** Moves past whitespace and line ends; whether anything is left. */
  skipBlank(): boolean {
    const { body } = this;
    while (this.at < body.length) {
      const c = body[this.at];
      if (c !== SPACE && c !== TAB && c !== CR && c !== LF) return true;
      this.at++;
    }
    return false;
  }

  /**
   * One line `[n, n, ...]` into `out` (exactly `width` numbers when given, at most out's length
   * otherwise); the numbers read, or undefined when the line is anything else.
   */
  readRow(out: Float32Array, width: number | undefined): Float32Array | undefined {
    const { body } = this;
    if (body[this.at] !== OPEN_BRACKET) return undefined;
    this.at++;
    let count = 0;
    this.skipSpaces();
    if (body[this.at] === CLOSE_BRACKET) return undefined;
    for (;;) {
      if (count >= out.length) return undefined;
      const value = this.readNumber();
      if (value === undefined) return undefined;
      out[count++] = value;
      this.skipSpaces();
      const c = body[this.at++];
      if (c === COMMA) {
        this.skipSpaces();
        continue;
      }
      if (c === CLOSE_BRACKET) break;
      return undefined;
    }
    if (width !== undefined && count !== width) return undefined;
    this.skipSpaces();
    if (this.at < body.length && body[this.at] !== LF) return undefined;
    return out.subarray(0, count);
  }

  private skipSpaces(): void {
    const { body } = this;
    while (this.at < body.length) {
      const c = body[this.at];
      if (c !== SPACE && c !== TAB && c !== CR) return;
      this.at++;
    }
  }

  /**
   * A JSON number. Up to 15 significant digits and a power of ten within ±22, the value is one
   * correctly rounded operation on exact operands, so it equals what JSON.parse gives; past that,
   * the runtime's own parser reads it.
   */
  private readNumber(): number | undefined {
    const { body } = this;
    const start = this.at;
    const negative = body[this.at] === MINUS;
    if (negative) this.at++;
    let mantissa = 0;
    let significant = 0;
    let exponent = 0;
    const first = body[this.at] ?? 0;
    if (first < ZERO || first > NINE) return undefined;
    if (first === ZERO) {
      this.at++;
      const next = body[this.at] ?? 0;
      if (next >= ZERO && next <= NINE) return undefined;
    } else {
      for (let c = body[this.at] ?? 0; c >= ZERO && c <= NINE; c = body[++this.at] ?? 0) {
        if (significant < 15) {
          mantissa = mantissa * 10 + (c - ZERO);
          significant++;
        } else {
          exponent++;
          significant++;
        }
      }
    }
    if (body[this.at] === DOT) {
      this.at++;
      let digits = 0;
      for (let c = body[this.at] ?? 0; c >= ZERO && c <= NINE; c = body[++this.at] ?? 0) {
        digits++;
        if (mantissa === 0 && c === ZERO) {
          exponent--;
          continue;
        }
        if (significant < 15) {
          mantissa = mantissa * 10 + (c - ZERO);
          exponent--;
        }
        significant++;
      }
      if (digits === 0) return undefined;
    }
    const e = body[this.at];
    if (e === 0x65 || e === 0x45) {
      this.at++;
      const sign = body[this.at];
      if (sign === MINUS || sign === PLUS) this.at++;
      let power = 0;
      let digits = 0;
      for (let c = body[this.at] ?? 0; c >= ZERO && c <= NINE; c = body[++this.at] ?? 0) {
        if (power < 1e6) power = power * 10 + (c - ZERO);
        digits++;
      }
      if (digits === 0) return undefined;
      exponent += sign === MINUS ? -power : power;
    }
    let value: number;
    if (significant <= 15 && exponent >= -22 && exponent <= 22) {
      value = exponent >= 0 ? mantissa * (POW10[exponent] ?? 1) : mantissa / (POW10[-exponent] ?? 1);
      return negative ? -value : value;
    }
    value = Number(Buffer.from(body.buffer, body.byteOffset + start, this.at - start).toString('latin1'));
    return Number.isFinite(value) ? value : undefined;
  }
}
