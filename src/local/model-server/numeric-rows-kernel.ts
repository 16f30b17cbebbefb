import { compileKernel, F64, I32, I64, op, reserveMemory } from '../../core/wasm.ts';
import {
  CLOSE_BRACKET,
  COMMA,
  CR,
  DOT,
  LF,
  LOWER_E,
  MINUS,
  OPEN_BRACKET,
  PLUS,
  SPACE,
  TAB,
  ZERO,
} from './ascii.ts';
import type { NumericRows } from './numeric-rows.ts';

/**
 * The rows of numbers of a request body read in WebAssembly, several times faster than in JavaScript:
 * lines `[n, n, ...]` of exactly `width` JSON numbers each, spaces, tabs and CR allowed between
 * tokens, blank lines skipped. Each number is read as numeric-rows.ts reads one (at most 15
 * significant digits and a power of ten within ±22, so one correctly rounded operation gives what
 * JSON.parse gives) and stored as float32. Anything else (another shape, more digits) gives -1, and
 * the JavaScript reader, which knows every case, reads the body instead.
 *
 * Memory: the powers of ten (f64) at POWERS, the body at DATA followed by a zero byte that ends every
 * loop, the numbers (f32) from `out`.
 *
 *   run(length, width, out): the rows read, or -1
 */
const POWERS = 0;
const DATA = 256;

// Parameters, then locals.
const length = 0;
const width = 1;
const out = 2;
const i = 3;
const c = 4;
const rows = 5;
const count = 6;
const negative = 7;
const significant = 8;
const exponent = 9;
const first = 10;
const power = 11;
const at = 12;
const digit = 13;
const mantissa = 14; // i64
const value = 15; // f64

const fail = [...op.const(-1), ...op.return];
/** c = data[i] */
const load = [...op.get(i), ...op.load8(DATA), ...op.set(c)];
const next = [...op.get(i), ...op.const(1), ...op.add, ...op.set(i)];
/** digit = data[i] - '0'; leaves whether it is one (an unsigned compare below 10). */
const isDigit = [
  ...op.get(i),
  ...op.load8(DATA),
  ...op.const(ZERO),
  ...op.sub,
  ...op.tee(digit),
  ...op.const(10),
  ...op.ltU,
];
const isOneOf = (local: number, codes: readonly number[]) =>
  codes.flatMap((code, k) => [...op.get(local), ...op.const(code), ...op.eq, ...(k > 0 ? op.or : [])]);
/** Moves past spaces, tabs and CRs (and line ends too when `lines`). */
const skip = (lines: boolean) => [
  ...op.block,
  ...op.loop,
  ...load,
  ...isOneOf(c, lines ? [SPACE, TAB, CR, LF] : [SPACE, TAB, CR]),
  ...op.eqz,
  ...op.brIf(1),
  ...next,
  ...op.br(0),
  ...op.end,
  ...op.end,
];
/** mantissa = mantissa * 10 + digit */
const addDigit = [
  ...op.get(mantissa),
  ...op.i64Const(10n),
  ...op.i64Mul,
  ...op.get(digit),
  ...op.i64ExtendI32U,
  ...op.i64Add,
  ...op.set(mantissa),
];
const step = (local: number, by: number) => [...op.get(local), ...op.const(by), ...op.add, ...op.set(local)];

// One number at data[i], stored as float32 at `at` + count * 4.
// biome-ignore format: one step per line
const number = [
  ...op.get(i), ...op.load8(DATA), ...op.const(MINUS), ...op.eq, ...op.set(negative),
  ...op.get(i), ...op.get(negative), ...op.add, ...op.set(i),
  ...op.i64Const(0n), ...op.set(mantissa),
  ...op.const(0), ...op.set(significant),
  ...op.const(0), ...op.set(exponent),
  ...isDigit, ...op.eqz, ...op.if, ...fail, ...op.end,
  ...op.get(digit), ...op.eqz,
  ...op.if,
    // A leading zero is the whole integer part.
    ...next,
    ...isDigit, ...op.if, ...fail, ...op.end,
  ...op.else,
    ...op.block, ...op.loop,
      ...isDigit, ...op.eqz, ...op.brIf(1),
      ...op.get(significant), ...op.const(15), ...op.ltS,
      ...op.if, ...addDigit, ...op.else, ...step(exponent, 1), ...op.end,
      ...step(significant, 1),
      ...next,
      ...op.br(0),
    ...op.end, ...op.end,
  ...op.end,
  ...load,
  ...op.get(c), ...op.const(DOT), ...op.eq,
  ...op.if,
    ...next,
    ...op.get(i), ...op.set(first),
    ...op.block, ...op.loop,
      ...isDigit, ...op.eqz, ...op.brIf(1),
      // Zeros before the first significant digit only move the point.
      ...op.get(mantissa), ...op.i64Eqz, ...op.get(digit), ...op.eqz, ...op.and,
      ...op.if,
        ...step(exponent, -1),
      ...op.else,
        ...op.get(significant), ...op.const(15), ...op.ltS,
        ...op.if, ...addDigit, ...step(exponent, -1), ...op.end,
        ...step(significant, 1),
      ...op.end,
      ...next,
      ...op.br(0),
    ...op.end, ...op.end,
    ...op.get(i), ...op.get(first), ...op.eq, ...op.if, ...fail, ...op.end,
    ...load,
  ...op.end,
  ...op.get(c), ...op.const(0x20), ...op.or, ...op.const(LOWER_E), ...op.eq,
  ...op.if,
    ...next,
    ...load,
    ...isOneOf(c, [MINUS, PLUS]), ...op.if, ...next, ...op.end,
    ...op.get(i), ...op.set(first),
    ...op.const(0), ...op.set(power),
    ...op.block, ...op.loop,
      ...isDigit, ...op.eqz, ...op.brIf(1),
      ...op.get(power), ...op.const(1_000_000), ...op.ltS,
      ...op.if,
        ...op.get(power), ...op.const(10), ...op.mul, ...op.get(digit), ...op.add, ...op.set(power),
      ...op.end,
      ...next,
      ...op.br(0),
    ...op.end, ...op.end,
    ...op.get(i), ...op.get(first), ...op.eq, ...op.if, ...fail, ...op.end,
    ...op.get(exponent),
    ...op.get(c), ...op.const(MINUS), ...op.eq,
    ...op.if, ...op.const(0), ...op.get(power), ...op.sub, ...op.set(power), ...op.end,
    ...op.get(power), ...op.add, ...op.set(exponent),
  ...op.end,
  ...op.get(significant), ...op.const(15), ...op.gtS, ...op.if, ...fail, ...op.end,
  ...op.get(exponent), ...op.const(-22), ...op.ltS, ...op.if, ...fail, ...op.end,
  ...op.get(exponent), ...op.const(22), ...op.gtS, ...op.if, ...fail, ...op.end,
  ...op.get(mantissa), ...op.f64ConvertI64U, ...op.set(value),
  ...op.get(exponent), ...op.const(0), ...op.geS,
  ...op.if,
    ...op.get(value), ...op.get(exponent), ...op.const(8), ...op.mul, ...op.f64Load(POWERS), ...op.f64Mul, ...op.set(value),
  ...op.else,
    ...op.get(value), ...op.const(0), ...op.get(exponent), ...op.sub, ...op.const(8), ...op.mul, ...op.f64Load(POWERS), ...op.f64Div, ...op.set(value),
  ...op.end,
  ...op.get(negative), ...op.if, ...op.get(value), ...op.f64Neg, ...op.set(value), ...op.end,
  ...op.get(at), ...op.get(count), ...op.const(4), ...op.mul, ...op.add,
  ...op.get(value), ...op.f32DemoteF64,
  ...op.f32Store(0),
];

// biome-ignore format: one step per line
const body = [
  ...op.block, ...op.loop,
    ...skip(true),
    ...op.get(i), ...op.get(length), ...op.geU, ...op.brIf(1),
    ...load, ...op.get(c), ...op.const(OPEN_BRACKET), ...op.ne, ...op.if, ...fail, ...op.end,
    ...next,
    ...skip(false),
    ...load, ...op.get(c), ...op.const(CLOSE_BRACKET), ...op.eq, ...op.if, ...fail, ...op.end,
    ...op.const(0), ...op.set(count),
    ...op.get(out), ...op.get(rows), ...op.get(width), ...op.mul, ...op.const(4), ...op.mul, ...op.add, ...op.set(at),
    ...op.loop,
      ...op.get(count), ...op.get(width), ...op.geU, ...op.if, ...fail, ...op.end,
      ...number,
      ...step(count, 1),
      ...skip(false),
      ...next,
      ...op.get(c), ...op.const(COMMA), ...op.eq,
      ...op.if, ...skip(false), ...op.br(1), ...op.end,
      ...op.get(c), ...op.const(CLOSE_BRACKET), ...op.ne, ...op.if, ...fail, ...op.end,
    ...op.end,
    ...op.get(count), ...op.get(width), ...op.ne, ...op.if, ...fail, ...op.end,
    ...skip(false),
    ...op.get(i), ...op.get(length), ...op.ltU,
    ...op.if, ...load, ...op.get(c), ...op.const(LF), ...op.ne, ...op.if, ...fail, ...op.end, ...op.end,
    ...step(rows, 1),
    ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(rows),
];

const newKernel = compileKernel<(length: number, width: number, out: number) => number>(
  {
    params: 3,
    locals: [
      { count: 11, type: I32 },
      { count: 1, type: I64 },
      { count: 1, type: F64 },
    ],
    body,
  },
  1,
);

let kernel: ReturnType<typeof newKernel> | undefined;

/** The rows of `body` when it is two or more simple rows of `width` numbers; else undefined. */
export function readSimpleRows(body: Uint8Array, width: number): NumericRows | undefined {
  if (width < 1) return undefined;
  kernel ??= start();
  // A row of `width` numbers takes at least 2 × width bytes with its brackets and commas.
  const most = Math.floor(body.length / (2 * width)) + 1;
  const out = (DATA + body.length + 1 + 7) & ~7;
  reserveMemory(kernel.memory, out + most * width * 4);
  const bytes = new Uint8Array(kernel.memory.buffer);
  bytes.set(body, DATA);
  bytes[DATA + body.length] = 0;
  const rows = kernel.run(body.length, width, out);
  if (rows < 2) return undefined;
  return { rows, width, data: new Float32Array(kernel.memory.buffer, out, rows * width).slice() };
}

function start(): ReturnType<typeof newKernel> {
  const instance = newKernel();
  new Float64Array(instance.memory.buffer, POWERS, 23).set(Array.from({ length: 23 }, (_, k) => 10 ** k));
  return instance;
}
