import { I32, instantiate, op, reserveMemory, V128 } from '../wasm.ts';

/**
 * Counts line ends in a byte range and tells whether a line in it may be empty, sixteen bytes at a
 * time (WebAssembly SIMD): lines that pass through untouched need only this, not a look at every line.
 *
 *   run(length): for each 16-byte block v (and v1, the block one byte further):
 *                lf = (v == '\n'); count lanes of lf; flag if lf & (v1 == '\n' | v1 == '\r')
 *
 * A line end followed by another, or by CR, marks an empty line ("\n\n", "\n\r\n"), or a line that
 * starts with CR: the caller then looks at the lines one by one. Lane counts are summed every 255
 * blocks, before a byte lane can overflow.
 */
const FLAG = 0;
const DATA = 64;
// Parameter, then locals: three i32, seven v128.
const length = 0;
const i = 1;
const total = 2;
const blocks = 3;
const newline = 4;
const carriage = 5;
const flags = 6;
const counts = 7;
const v = 8;
const next = 9;
const lf = 10;

// biome-ignore format: one step per line
const body = [
  ...op.const(0x0a), ...op.i8x16Splat, ...op.set(newline),
  ...op.const(0x0d), ...op.i8x16Splat, ...op.set(carriage),
  ...op.v128Zero, ...op.set(flags),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(length), ...op.geU, ...op.brIf(1),
  ...op.v128Zero, ...op.set(counts),
  ...op.const(0), ...op.set(blocks),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(length), ...op.geU, ...op.brIf(1),
  ...op.get(blocks), ...op.const(255), ...op.geU, ...op.brIf(1),
  ...op.get(i), ...op.v128Load(DATA), ...op.set(v),
  ...op.get(i), ...op.v128Load(DATA + 1), ...op.set(next),
  ...op.get(v), ...op.get(newline), ...op.i8x16Eq, ...op.set(lf),
  ...op.get(counts), ...op.get(lf), ...op.i8x16Sub, ...op.set(counts),
  ...op.get(next), ...op.get(newline), ...op.i8x16Eq, ...op.get(next), ...op.get(carriage), ...op.i8x16Eq, ...op.v128Or,
  ...op.get(lf), ...op.v128And, ...op.get(flags), ...op.v128Or, ...op.set(flags),
  ...op.get(i), ...op.const(16), ...op.add, ...op.set(i),
  ...op.get(blocks), ...op.const(1), ...op.add, ...op.set(blocks),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(counts), ...op.i16x8ExtaddPairwiseU8, ...op.i32x4ExtaddPairwiseU16, ...op.set(counts),
  ...op.get(total),
  ...op.get(counts), ...op.i32x4ExtractLane(0), ...op.add,
  ...op.get(counts), ...op.i32x4ExtractLane(1), ...op.add,
  ...op.get(counts), ...op.i32x4ExtractLane(2), ...op.add,
  ...op.get(counts), ...op.i32x4ExtractLane(3), ...op.add,
  ...op.set(total),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.const(FLAG), ...op.get(flags), ...op.v128AnyTrue, ...op.store(0),
  ...op.get(total),
];

const kernel = instantiate<(length: number) => number>(
  {
    params: 1,
    locals: [
      { count: 3, type: I32 },
      { count: 7, type: V128 },
    ],
    body,
  },
  2,
);
let memory = new Uint8Array(kernel.memory.buffer);

export interface LineCount {
  /** Line ends ('\n') in the range. */
  readonly lines: number;
  /** Whether some line in the range may be empty: then look at its lines one by one. */
  readonly empty: boolean;
}

/** Line ends in b[start, end), a range that starts right after a line end or at the input's start. */
export function countLines(b: Uint8Array, start: number, end: number): LineCount {
  const size = end - start;
  if (reserveMemory(kernel.memory, DATA + size + 32)) memory = new Uint8Array(kernel.memory.buffer);
  memory.set(b.subarray(start, end), DATA);
  memory.fill(0, DATA + size, DATA + size + 32);
  const lines = kernel.run(size);
  const first = b[start];
  const empty = first === 0x0a || first === 0x0d || new Int32Array(memory.buffer, FLAG, 1)[0] !== 0;
  return { lines, empty };
}
