import { I32, instantiate, op, PAGE, V128 } from '../wasm.ts';

/**
 * Turns the content of a list of flat lists, `[..],[..],...,[..]`, into one list per line, sixteen bytes
 * at a time (WebAssembly SIMD): every ']' but the last must be followed by ",[" and its comma becomes a
 * newline. A ']' followed by anything else means the lists nest or numbers stand among them, and the
 * answer is -1.
 *
 *   run(length): for each 16-byte block, for each ']' in it (mask, count trailing zeros): check and
 *                rewrite the two bytes after it; return the number of lists.
 */
const DATA = 64;
const length = 0;
const i = 1;
const count = 2;
const mask = 3;
const at = 4;
const close = 5;

// biome-ignore format: one step per line
const body = [
  ...op.const(1), ...op.set(count),
  ...op.const(0x5d), ...op.i8x16Splat, ...op.set(close),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(length), ...op.geU, ...op.brIf(1),
  ...op.get(i), ...op.v128Load(DATA), ...op.get(close), ...op.i8x16Eq, ...op.i8x16Bitmask, ...op.set(mask),
  ...op.block, ...op.loop,
  ...op.get(mask), ...op.eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(mask), ...op.ctz, ...op.add, ...op.set(at),
  ...op.get(at), ...op.get(length), ...op.const(1), ...op.sub, ...op.ne,
  ...op.if,
  ...op.get(at), ...op.load8(DATA + 1), ...op.const(0x2c), ...op.ne, ...op.if, ...op.const(-1), ...op.return, ...op.end,
  ...op.get(at), ...op.load8(DATA + 2), ...op.const(0x5b), ...op.ne, ...op.if, ...op.const(-1), ...op.return, ...op.end,
  ...op.get(at), ...op.const(0x0a), ...op.store8(DATA + 1),
  ...op.get(count), ...op.const(1), ...op.add, ...op.set(count),
  ...op.end,
  ...op.get(mask), ...op.get(mask), ...op.const(1), ...op.sub, ...op.and, ...op.set(mask),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(i), ...op.const(16), ...op.add, ...op.set(i),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(count),
];

const kernel = instantiate<(length: number) => number>(
  {
    params: 1,
    locals: [
      { count: 4, type: I32 },
      { count: 1, type: V128 },
    ],
    body,
  },
  2,
);
let memory = new Uint8Array(kernel.memory.buffer);

/**
 * The lists in b[start, end) as lines, each ending with a newline, or undefined when the content is not
 * a list of flat lists. The lines are a view that is only valid until the next call.
 */
export function listsToLines(
  b: Uint8Array,
  start: number,
  end: number,
): { lines: Uint8Array; count: number } | undefined {
  const size = end - start;
  if (size < 2 || b[start] !== 0x5b || b[end - 1] !== 0x5d) return undefined;
  if (DATA + size + 16 > memory.length) {
    kernel.memory.grow(Math.ceil((DATA + size + 16 - memory.length) / PAGE));
    memory = new Uint8Array(kernel.memory.buffer);
  }
  memory.set(b.subarray(start, end), DATA);
  memory.fill(0, DATA + size, DATA + size + 16);
  const count = kernel.run(size);
  memory[DATA + size] = 0x0a;
  return count < 0 ? undefined : { lines: memory.subarray(DATA, DATA + size + 1), count };
}
