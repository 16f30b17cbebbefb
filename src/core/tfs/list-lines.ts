import { compileKernel, I32, op, reserveMemory, V128 } from '../wasm.ts';

/**
 * Turns the content of a TFS `predictions` list into one value per line, 32 bytes at a time
 * (WebAssembly SIMD), when its values are all numbers (`1,-2.5e-3`) or all flat lists of numbers
 * (`[0.1,0.9],[0.2,0.8]`) written without spaces, and checks on the way that the content is exactly
 * that, as valid JSON. Anything else (a string, a space, a list in a list, `1.2.3`, `01`) makes the
 * answer -1, and the caller splits the response the slow way.
 *
 *   run(start, end, lists): per 32-byte block, bit masks of digits, '.', ',' and '0'; from them, for
 *                           the whole block at once: no '.' or ',' next to another, no second '.' in
 *                           a number, no digit after a leading 0. Every other byte is rare ('[', ']',
 *                           'e', signs, or one that has no place here) and is checked against the
 *                           bytes around it, one by one. Each comma that ends a value becomes a
 *                           newline; the answer is the number of values.
 *
 * A second '.' is found by adding the '.' bits to the runs of digits and dots they lie in: the carry
 * of the first one runs to the run's end, so a second one in the same run comes out set.
 */
const DATA = 64;
const BLOCK = 32;
const HALF = 16;
const LF = 0x0a;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const CASE_BIT = 0x20;

// Parameters.
const start = 0;
const end = 1;
const lists = 2;
// i32 locals: the block, the answer, the block's bit masks and those the block before left.
const i = 3;
const count = 4;
const digits = 5;
const dots = 6;
const commas = 7;
const zeros = 8;
const dotsOrCommas = 9;
const rare = 10;
const digitsOrDots = 11;
const sum = 12;
const runCarry = 13;
const zerosAfterComma = 14;
const lastDotsOrCommas = 15;
const lastCommas = 16;
const lastZerosAfterComma = 17;
const left = 18;
// The rare byte being checked, where it is, and where the number it is in has been read to.
const at = 19;
const byte = 20;
const next = 21;
const cursor = 22;
// v128 locals: the block's two halves and the bytes they are compared with.
const low = 23;
const high = 24;
const zeroBytes = 25;
const colonBytes = 26;
const dotBytes = 27;
const commaBytes = 28;

type Ops = readonly number[];
const fail: Ops = [...op.const(-1), ...op.return];
const failIf = (condition: Ops): Ops => [...condition, ...op.if, ...fail, ...op.end];
const byteAt = (position: number, offset: number): Ops => [...op.get(position), ...op.load8(DATA + offset)];
const is = (value: Ops, c: number): Ops => [...value, ...op.const(c), ...op.eq];
const isDigit = (value: Ops): Ops => [...value, ...op.const(ZERO), ...op.sub, ...op.const(10), ...op.ltU];
const isExponent = (value: Ops): Ops => is([...value, ...op.const(CASE_BIT), ...op.or], LOWER_E);
const joined =
  (instruction: Ops) =>
  (first: Ops, ...rest: Ops[]): Ops => [
    ...first,
    ...rest.flatMap((condition) => [...condition, ...instruction]),
  ];
const anyOf = joined(op.or);
const allOf = joined(op.and);
const not = (condition: Ops): Ops => [...condition, ...op.eqz];
const increment = (local: number): Ops => [...op.get(local), ...op.const(1), ...op.add, ...op.set(local)];
/** One kind of byte over the whole block: the lanes `compare` sets in each half, as one bit mask. */
const mask = (compare: (half: number) => Ops): Ops => [
  ...compare(low),
  ...op.i8x16Bitmask,
  ...compare(high),
  ...op.i8x16Bitmask,
  ...op.const(HALF),
  ...op.shl,
  ...op.or,
];
const equal =
  (splat: number) =>
  (half: number): Ops => [...op.get(half), ...op.get(splat), ...op.i8x16Eq];
// The sign bit of a byte minus c: whether the byte is below c, for bytes under 0x80. "Below ':' and
// not below '0'" still picks out the digits among all bytes.
const below =
  (splat: number) =>
  (half: number): Ops => [...op.get(half), ...op.get(splat), ...op.i8x16Sub];
/** The bits of `mask` moved one byte on, the last one of the block before coming in first. */
const movedOn = (mask: number, last: number): Ops => [
  ...op.get(mask),
  ...op.const(1),
  ...op.shl,
  ...op.get(last),
  ...op.const(BLOCK - 1),
  ...op.shrU,
  ...op.or,
];
/** After the byte at `at`, a number's integer part: no digit after a 0 there. */
const leadingZeroAfter: Ops = allOf(is(byteAt(at, 1), ZERO), isDigit(byteAt(at, 2)));
/** The '[' at `at` opens an empty list or one whose first number starts right. */
const listOpens: Ops = [
  ...byteAt(at, 1),
  ...op.set(next),
  ...failIf(not(anyOf(isDigit(op.get(next)), is(op.get(next), MINUS), is(op.get(next), CLOSE_BRACKET)))),
  ...failIf(leadingZeroAfter),
];
const notStart: Ops = [...op.get(at), ...op.get(start), ...op.ne];

// biome-ignore format: one step per line
const checkRareByte = [
  ...op.get(at), ...op.load8(DATA), ...op.set(byte),
  ...is(op.get(byte), CLOSE_BRACKET), ...op.if,
  // ']' closes a list that is empty or ends with a digit, and is followed by ",[" or nothing. The
  // comma ends a value: it becomes a newline.
  ...failIf(not(op.get(lists))),
  ...failIf(not(anyOf(isDigit(byteAt(at, -1)), is(byteAt(at, -1), OPEN_BRACKET)))),
  ...byteAt(at, 1), ...op.if,
  ...failIf(not(allOf(is(byteAt(at, 1), COMMA), is(byteAt(at, 2), OPEN_BRACKET)))),
  ...op.get(at), ...op.const(LF), ...op.store8(DATA + 1),
  ...increment(count),
  ...op.end,
  ...op.else, ...is(op.get(byte), OPEN_BRACKET), ...op.if,
  // '[' opens the content, or follows "],", whose comma is a newline by now.
  ...failIf(not(op.get(lists))),
  ...failIf(allOf(notStart, not(is(byteAt(at, -1), LF)))),
  ...listOpens,
  ...op.else, ...isExponent(op.get(byte)), ...op.if,
  // An exponent follows a digit and has digits after its optional sign, to the number's end.
  ...failIf(not(isDigit(byteAt(at, -1)))),
  ...op.get(at), ...op.set(cursor),
  ...anyOf(is(byteAt(cursor, 1), PLUS), is(byteAt(cursor, 1), MINUS)), ...op.if, ...increment(cursor), ...op.end,
  ...failIf(not(isDigit(byteAt(cursor, 1)))),
  ...op.loop,
  ...increment(cursor),
  ...isDigit(byteAt(cursor, 1)), ...op.brIf(0),
  ...op.end,
  ...byteAt(cursor, 1), ...op.set(next),
  ...failIf(not(anyOf(is(op.get(next), COMMA), is(op.get(next), CLOSE_BRACKET), is(op.get(next), 0)))),
  ...op.else, ...is(op.get(byte), MINUS), ...op.if,
  // '-' after an exponent was checked with it; any other starts a value.
  ...not(allOf(notStart, isExponent(byteAt(at, -1)))), ...op.if,
  ...failIf(allOf(notStart, not(anyOf(is(byteAt(at, -1), COMMA), is(byteAt(at, -1), LF), is(byteAt(at, -1), OPEN_BRACKET))))),
  ...failIf(not(isDigit(byteAt(at, 1)))),
  ...failIf(leadingZeroAfter),
  ...op.end,
  ...op.else, ...is(op.get(byte), PLUS), ...op.if,
  ...failIf(not(isExponent(byteAt(at, -1)))),
  ...op.else, ...is(op.get(byte), LF), ...op.if,
  // The comma after a ']' that ended the block before, made a newline then.
  ...failIf(not(is(byteAt(at, -1), CLOSE_BRACKET))),
  ...op.else,
  ...fail,
  ...op.end, ...op.end, ...op.end, ...op.end, ...op.end, ...op.end,
];

// biome-ignore format: one step per line
const body = [
  ...op.const(1), ...op.set(count),
  ...op.get(start), ...op.set(i),
  ...op.const(ZERO), ...op.i8x16Splat, ...op.set(zeroBytes),
  ...op.const(COLON), ...op.i8x16Splat, ...op.set(colonBytes),
  ...op.const(DOT), ...op.i8x16Splat, ...op.set(dotBytes),
  ...op.const(COMMA), ...op.i8x16Splat, ...op.set(commaBytes),
  // The first number is checked as if a comma stood before it: a 0 there takes no digit after it.
  ...op.get(lists), ...op.eqz, ...op.if,
  ...op.const(1 << (BLOCK - 1)), ...op.set(lastCommas),
  ...op.end,
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(end), ...op.geU, ...op.brIf(1),
  ...op.get(i), ...op.v128Load(DATA), ...op.set(low),
  ...op.get(i), ...op.v128Load(DATA + HALF), ...op.set(high),
  ...mask(below(colonBytes)), ...mask(below(zeroBytes)), ...op.const(-1), ...op.xor, ...op.and, ...op.set(digits),
  ...mask(equal(zeroBytes)), ...op.set(zeros),
  ...mask(equal(dotBytes)), ...op.set(dots),
  ...mask(equal(commaBytes)), ...op.set(commas),
  ...op.get(dots), ...op.get(commas), ...op.or, ...op.set(dotsOrCommas),
  ...op.get(digits), ...op.get(dotsOrCommas), ...op.or, ...op.const(-1), ...op.xor, ...op.set(rare),
  // Past the end, the last block holds bytes that are not the caller's (zeros).
  ...op.get(end), ...op.get(i), ...op.sub, ...op.tee(left), ...op.const(BLOCK), ...op.ltU, ...op.if,
  ...op.get(rare), ...op.const(1), ...op.get(left), ...op.shl, ...op.const(1), ...op.sub, ...op.and, ...op.set(rare),
  ...op.end,
  ...op.get(digits), ...op.get(dots), ...op.or, ...op.set(digitsOrDots),
  ...op.get(digitsOrDots), ...op.get(dots), ...op.add, ...op.get(runCarry), ...op.add, ...op.set(sum),
  ...op.get(zeros), ...movedOn(commas, lastCommas), ...op.and, ...op.set(zerosAfterComma),
  ...op.get(dotsOrCommas), ...movedOn(dotsOrCommas, lastDotsOrCommas), ...op.and,
  ...op.get(dots), ...op.get(sum), ...op.and, ...op.or,
  ...op.get(digits), ...movedOn(zerosAfterComma, lastZerosAfterComma), ...op.and, ...op.or,
  ...op.if, ...fail, ...op.end,
  ...op.get(sum), ...op.get(digitsOrDots), ...op.ltU, ...op.set(runCarry),
  ...op.get(dotsOrCommas), ...op.set(lastDotsOrCommas),
  ...op.get(commas), ...op.set(lastCommas),
  ...op.get(zerosAfterComma), ...op.set(lastZerosAfterComma),
  ...op.block, ...op.loop,
  ...op.get(rare), ...op.eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(rare), ...op.ctz, ...op.add, ...op.set(at),
  ...checkRareByte,
  ...op.get(rare), ...op.get(rare), ...op.const(1), ...op.sub, ...op.and, ...op.set(rare),
  ...op.br(0),
  ...op.end, ...op.end,
  // Between numbers, every comma ends a value.
  ...op.get(lists), ...op.eqz, ...op.if,
  ...op.get(count), ...op.get(commas), ...op.popcnt, ...op.add, ...op.set(count),
  ...op.block, ...op.loop,
  ...op.get(commas), ...op.eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(commas), ...op.ctz, ...op.add, ...op.const(LF), ...op.store8(DATA),
  ...op.get(commas), ...op.get(commas), ...op.const(1), ...op.sub, ...op.and, ...op.set(commas),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.end,
  ...op.get(i), ...op.const(BLOCK), ...op.add, ...op.set(i),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(count),
];

const newKernel = compileKernel<(start: number, end: number, lists: number) => number>(
  {
    params: 3,
    locals: [
      { count: low - i, type: I32 },
      { count: commaBytes - low + 1, type: V128 },
    ],
    body,
  },
  2,
);

/**
 * Output lines gathered in the kernel's memory, so that a response's values are copied once (in), made
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

  /**
   * Appends the values in b[from, to), the content of a JSON list, as lines, when they are all numbers
   * or all flat lists of numbers, written without spaces: the number of values. -1 (nothing appended)
   * when they are anything else, valid JSON or not.
   */
  appendValues(b: Uint8Array, from: number, to: number): number {
    if (from === to) return 0;
    const first = b[from] as number;
    const last = b[to - 1] as number;
    const lists = first === OPEN_BRACKET;
    if (lists ? last !== CLOSE_BRACKET : !isAsciiDigit(last) || !(isAsciiDigit(first) || first === MINUS))
      return -1;
    const size = to - from;
    const offset = this.reserve(size + 1);
    const memory = this.memory;
    memory.set(b.subarray(from, to), DATA + offset);
    memory.fill(0, DATA + offset + size, DATA + offset + size + BLOCK);
    const values = this.kernel.run(offset, offset + size, lists ? 1 : 0);
    if (values < 0) return -1;
    memory[DATA + offset + size] = LF;
    this.used += size + 1;
    return values;
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
    if (reserveMemory(this.kernel.memory, DATA + this.used + size + BLOCK))
      this.memory = new Uint8Array(this.kernel.memory.buffer);
    return this.used;
  }
}

function isAsciiDigit(c: number): boolean {
  return c >= ZERO && c <= 0x39;
}
