import { compileKernel, I32, op, reserveMemory, V128 } from '../wasm.ts';

/**
 * Turns the content of a list of flat lists, `[..],[..],...,[..]`, into one list per line, sixteen bytes
 * at a time (WebAssembly SIMD): every ']' but the last must be followed by ",[" and its comma becomes a
 * newline. A ']' followed by anything else means the lists nest or numbers stand among them, and a
 * quote means strings: the answer is then -1.
 *
 *   run(start, end): for each 16-byte block, for each ']' in it (mask, count trailing zeros): check and
 *                    rewrite the two bytes after it; return the number of lists.
 */
const DATA = 64;
const start = 0;
const end = 1;
const i = 2;
const count = 3;
const mask = 4;
const at = 5;
const close = 6;
const quote = 7;
const block = 8;

// biome-ignore format: one step per line
const body = [
  ...op.const(1), ...op.set(count),
  ...op.get(start), ...op.set(i),
  ...op.const(0x5d), ...op.i8x16Splat, ...op.set(close),
  ...op.const(0x22), ...op.i8x16Splat, ...op.set(quote),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(end), ...op.geU, ...op.brIf(1),
  ...op.get(i), ...op.v128Load(DATA), ...op.set(block),
  ...op.get(block), ...op.get(quote), ...op.i8x16Eq, ...op.i8x16Bitmask, ...op.if, ...op.const(-1), ...op.return, ...op.end,
  ...op.get(block), ...op.get(close), ...op.i8x16Eq, ...op.i8x16Bitmask, ...op.set(mask),
  ...op.block, ...op.loop,
  ...op.get(mask), ...op.eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(mask), ...op.ctz, ...op.add, ...op.set(at),
  ...op.get(at), ...op.get(end), ...op.const(1), ...op.sub, ...op.ne,
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

const newKernel = compileKernel<(start: number, end: number) => number>(
  {
    params: 2,
    locals: [
      { count: 4, type: I32 },
      { count: 3, type: V128 },
    ],
    body,
  },
  2,
);

/**
 * Output lines gathered in the kernel's memory, so that a response's lists are copied once (in), made
 * into lines where they lie, and written out with others in one large write. Each buffer has a kernel
 * instance and memory of its own: merges may run side by side in one process.
 */
export class LineBuffer {
  private readonly kernel = newKernel();
  private memory = new Uint8Array(this.kernel.memory.buffer);
  private used = 0;

  get size(): number {
    return this.used;
  }

  /** Appends the lists in b[from, to) as lines; the number of lists, or -1 (nothing appended). */
  appendLists(b: Uint8Array, from: number, to: number): number {
    const size = to - from;
    if (size < 2 || b[from] !== 0x5b || b[to - 1] !== 0x5d) return -1;
    const offset = this.reserve(size + 1);
    const memory = this.memory;
    memory.set(b.subarray(from, to), DATA + offset);
    memory.fill(0, DATA + offset + size, DATA + offset + size + 16);
    const lists = this.kernel.run(offset, offset + size);
    if (lists < 0) return -1;
    memory[DATA + offset + size] = 0x0a;
    this.used += size + 1;
    return lists;
  }

  /** Appends bytes as they are. */
  append(b: Uint8Array, from: number, to: number): void {
    const offset = this.reserve(to - from);
    this.memory.set(b.subarray(from, to), DATA + offset);
    this.used += to - from;
  }

  /** What was appended, as a view valid until the next append; the buffer is empty again. */
  take(): Uint8Array {
    const lines = this.memory.subarray(DATA, DATA + this.used);
    this.used = 0;
    return lines;
  }

  private reserve(size: number): number {
    if (reserveMemory(this.kernel.memory, DATA + this.used + size + 16))
      this.memory = new Uint8Array(this.kernel.memory.buffer);
    return this.used;
  }
}
