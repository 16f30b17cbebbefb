import { I32, instantiate, op, PAGE, V128 } from '../wasm.ts';

/**
 * Counts line ends in a byte range and tells whether any line in it is empty, sixteen bytes at a time
 * (WebAssembly SIMD): lines that pass through untouched need only this, not a look at every line.
 *
 *   run(length, before): for each 16-byte block: m = mask of '\n', r = mask of '\r';
 *                        count += popcount(m); with the block's masks widened by the two bytes
 *                        before it, "\n\n" and "\n\r\n" mark an empty line.
 */
const FLAG = 0;
const DATA = 64;
// Parameters, then locals: nine i32, three v128.
const length = 0;
const before = 1;
const i = 2;
const count = 3;
const m = 4;
const r = 5;
const wideM = 6;
const wideR = 7;
const flag = 8;
const carryM = 9;
const carryR = 10;
const newline = 11;
const carriage = 12;
const v = 13;

// biome-ignore format: one step per line
const body = [
  ...op.get(before), ...op.const(3), ...op.and, ...op.set(carryM),
  ...op.get(before), ...op.const(2), ...op.shrU, ...op.const(3), ...op.and, ...op.set(carryR),
  ...op.const(0x0a), ...op.i8x16Splat, ...op.set(newline),
  ...op.const(0x0d), ...op.i8x16Splat, ...op.set(carriage),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(length), ...op.geU, ...op.brIf(1),
  ...op.get(i), ...op.v128Load(DATA), ...op.set(v),
  ...op.get(v), ...op.get(newline), ...op.i8x16Eq, ...op.i8x16Bitmask, ...op.set(m),
  ...op.get(v), ...op.get(carriage), ...op.i8x16Eq, ...op.i8x16Bitmask, ...op.set(r),
  ...op.get(count), ...op.get(m), ...op.popcnt, ...op.add, ...op.set(count),
  ...op.get(m), ...op.const(2), ...op.shl, ...op.get(carryM), ...op.or, ...op.set(wideM),
  ...op.get(r), ...op.const(2), ...op.shl, ...op.get(carryR), ...op.or, ...op.set(wideR),
  // "\n\n": '\n' at k and k+1
  ...op.get(wideM), ...op.get(wideM), ...op.const(1), ...op.shrU, ...op.and,
  // "\n\r\n": '\n' at k, '\r' at k+1, '\n' at k+2
  ...op.get(wideM), ...op.get(wideR), ...op.const(1), ...op.shrU, ...op.and,
  ...op.get(wideM), ...op.const(2), ...op.shrU, ...op.and,
  ...op.or, ...op.get(flag), ...op.or, ...op.set(flag),
  ...op.get(m), ...op.const(14), ...op.shrU, ...op.set(carryM),
  ...op.get(r), ...op.const(14), ...op.shrU, ...op.set(carryR),
  ...op.get(i), ...op.const(16), ...op.add, ...op.set(i),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.const(FLAG), ...op.get(flag), ...op.store(0),
  ...op.get(count),
];

const kernel = instantiate<(length: number, before: number) => number>(
  {
    params: 2,
    locals: [
      { count: 9, type: I32 },
      { count: 3, type: V128 },
    ],
    body,
  },
  2,
);
let memory = new Uint8Array(kernel.memory.buffer);

export interface LineCount {
  /** Line ends ('\n') in the range. */
  readonly lines: number;
  /** Whether some line ending in the range is empty ("\n" or "\r\n" right after a line end). */
  readonly empty: boolean;
}

/**
 * Line ends in b[start, end). `previous` are the two bytes before the range (the one right before in
 * the low byte); at the start of an input pass LF, as if a line had just ended.
 */
export function countLines(b: Uint8Array, start: number, end: number, previous: number): LineCount {
  const size = end - start;
  if (DATA + size + 16 > memory.length) {
    kernel.memory.grow(Math.ceil((DATA + size + 16 - memory.length) / PAGE));
    memory = new Uint8Array(kernel.memory.buffer);
  }
  memory.set(b.subarray(start, end), DATA);
  memory.fill(0, DATA + size, DATA + size + 16);
  const bits = (byte: number, value: number): number => (byte === value ? 1 : 0);
  const last = previous & 0xff;
  const secondLast = previous >>> 8;
  const before =
    bits(secondLast, 0x0a) |
    (bits(last, 0x0a) << 1) |
    (bits(secondLast, 0x0d) << 2) |
    (bits(last, 0x0d) << 3);
  const lines = kernel.run(size, before);
  return { lines, empty: new Int32Array(memory.buffer, FLAG, 1)[0] !== 0 };
}
