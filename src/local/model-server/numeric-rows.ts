/**
 * The common request of a batch transform, read fast: JSON Lines whose every line is a flat list of
 * numbers, for a model with one vector input. The numbers go straight from the bytes into the input
 * tensor, without JSON arrays in between. Anything else (objects, nesting, a lone line, a malformed
 * or odd number) is left to the general reader, which also words the errors: this only speeds up
 * requests that read correctly either way, and gives the same numbers as JSON.parse.
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
      if (!this.readNumber(out, count++)) return undefined;
      let c = body[this.at++];
      if (c !== COMMA && c !== CLOSE_BRACKET) {
        this.at--;
        this.skipSpaces();
        c = body[this.at++];
      }
      if (c === COMMA) {
        if (body[this.at] === SPACE) this.skipSpaces();
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
   * the runtime's own parser reads it. Stored into `out` at `index`; whether it was a number. This
   * runs for every number of every request: the value goes straight into the array (a double returned
   * from a call would be boxed on the heap) and the position is kept in a local while reading.
   */
  private readNumber(out: Float32Array, index: number): boolean {
    const { body } = this;
    const start = this.at;
    let at = start;
    // Past the end, `body[at]` is undefined, which no comparison below takes for a digit.
    let c = body[at] as number;
    const negative = c === MINUS;
    if (negative) c = body[++at] as number;
    let mantissa = 0;
    let significant = 0;
    let exponent = 0;
    if (!(c >= ZERO && c <= NINE)) return false;
    if (c === ZERO) {
      c = body[++at] as number;
      if (c >= ZERO && c <= NINE) return false;
    } else {
      while (c >= ZERO && c <= NINE) {
        if (significant < 15) mantissa = mantissa * 10 + (c - ZERO);
        else exponent++;
        significant++;
        c = body[++at] as number;
      }
    }
    if (c === DOT) {
      c = body[++at] as number;
      const first = at;
      while (c >= ZERO && c <= NINE) {
        if (mantissa === 0 && c === ZERO) exponent--;
        else {
          if (significant < 15) {
            mantissa = mantissa * 10 + (c - ZERO);
            exponent--;
          }
          significant++;
        }
        c = body[++at] as number;
      }
      if (at === first) return false;
    }
    if (c === 0x65 || c === 0x45) {
      c = body[++at] as number;
      const sign = c;
      if (sign === MINUS || sign === PLUS) c = body[++at] as number;
      let power = 0;
      const first = at;
      while (c >= ZERO && c <= NINE) {
        if (power < 1e6) power = power * 10 + (c - ZERO);
        c = body[++at] as number;
      }
      if (at === first) return false;
      exponent += sign === MINUS ? -power : power;
    }
    this.at = at;
    if (significant <= 15 && exponent >= -22 && exponent <= 22) {
      const value = exponent >= 0 ? mantissa * (POW10[exponent] ?? 1) : mantissa / (POW10[-exponent] ?? 1);
      out[index] = negative ? -value : value;
      return true;
    }
    const value = Number(Buffer.from(body.buffer, body.byteOffset + start, at - start).toString('latin1'));
    out[index] = value;
    return Number.isFinite(value);
  }
}
