import { compileKernel, I32, I64, op, relaxedSimd, reserveMemory, V128 } from '../wasm.ts';

/**
 * Turns the content of a TFS `predictions` list into one value per line, 64 bytes at a time
 * (WebAssembly SIMD), when its values are all numbers (`1,-2.5e-3`) or all flat lists of numbers
 * (`[0.1,0.9],[0.2,0.8]`) written without spaces, and checks on the way that the content is exactly
 * that, as JSON whose numbers may also be `NaN`, `Infinity` or `-Infinity` (TensorFlow Serving's
 * non-finite floats). Anything else (a string, a space, a list in a list, `1.2.3`, `01`, `nan`) makes
 * the answer -1, and the caller splits the response the slow way.
 *
 *   run(start, end, lists): per block of 64 bytes, the last two of the block before and 62 of its own,
 *                           a code for each byte: looked up by the byte's low four bits (in which the
 *                           bytes that matter here all differ), kept when the byte is the one of its
 *                           row. The codes' three bits give three 64-bit masks: digits and '.'; '0'
 *                           and brackets; '.', ',' and ']'. From them, for the whole block at once: no
 *                           '.' or ',' next to another or after a '[', no ']' after them, no second
 *                           '.' in a number, no digit after a leading 0, each ']' followed by ",[" and
 *                           each '[' after "]," (or at the start). Every other byte is rare (signs,
 *                           'e', the letters of NaN and Infinity, or one that has no place here) and is
 *                           checked against the bytes around it, one by one. Then the commas that end
 *                           a value become newlines; the answer is the number of values.
 *
 * With the two bytes before its own in each block, a rule about a byte and those before it is a shift
 * of a mask, with nothing carried from block to block but the runs of digits. A second '.' is found by
 * adding the '.' bits to the runs of digits and dots they lie in: the carry of the first one runs to
 * the run's end, so a second one in the same run comes out set.
 */
const BLOCK = 64;
const VECTOR = 16;
const LF = 0x0a;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const UPPER_I = 0x49;
const UPPER_N = 0x4e;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LOWER_A = 0x61;
const LOWER_E = 0x65;
const LOWER_Y = 0x79;
const CASE_BIT = 0x20;
/** "Infinity" read as one little-endian 64-bit word. */
const INFINITY_WORD = Buffer.from('Infinity').readBigUInt64LE();

// A byte's code: bit 7 for digits and '.', bit 6 for '0' and brackets, bit 5 for '.', ',' and ']'.
// Rare bytes have none.
const DIGIT_CODE = 0x80;
const ZERO_CODE = 0xc0;
const DOT_CODE = 0xa0;
const COMMA_CODE = 0x20;
const OPEN_CODE = 0x40;
const CLOSE_CODE = 0x60;
/** By low four bits, the byte that has a code, and its code: '0'-'9', '[', ',', ']', '.'. */
const ROWS = [
  ZERO,
  ...Array.from({ length: 9 }, (_, k) => ZERO + 1 + k),
  0,
  OPEN_BRACKET,
  COMMA,
  CLOSE_BRACKET,
  DOT,
  0,
];
const ROW_CODES = [
  ZERO_CODE,
  ...Array<number>(9).fill(DIGIT_CODE),
  0,
  OPEN_CODE,
  COMMA_CODE,
  CLOSE_CODE,
  DOT_CODE,
  0,
];

/**
 * Memory: the tables at 0 (the rows with brackets, the rows without, the codes, then the vectors the
 * loop needs), the caller's bytes at DATA (blocks start two bytes before theirs: DATA - 2).
 */
const LIST_ROWS = 0;
const NUMBER_ROWS = 16;
const CODES = 32;
const LOW_BITS = 48;
const COMMA_TO_NEWLINE = 64;
const COMMA_CODES = 80;
const DATA = 128;
const BLOCK_DATA = DATA - 2;
/** From a block's own bytes, where the last vector of the block before starts. */
const VECTOR_BEFORE = BLOCK_DATA + 3 * VECTOR - (BLOCK - 2);
const TABLES = [
  ...ROWS,
  ...ROWS.map((row) => (row === OPEN_BRACKET || row === CLOSE_BRACKET ? 0 : row)),
  ...ROW_CODES,
  ...Array<number>(VECTOR).fill(0x0f),
  ...Array<number>(VECTOR).fill(COMMA ^ LF),
  ...Array<number>(VECTOR).fill(COMMA_CODE),
];

// Parameters.
const start = 0;
const end = 1;
const lists = 2;
// i32 locals: the block, the answer, the rare byte being checked, where it is, the byte after it,
// where the number it is in has been read to, and where the NaN or Infinity read last ends.
const i = 3;
const count = 4;
const at = 5;
const byte = 6;
const next = 7;
const cursor = 8;
const tokenEnd = 9;
// i64 locals: the block's bit masks, and the carry of a run of digits and dots into the next block.
const codeBit7 = 10;
const codeBit6 = 11;
const codeBit5 = 12;
const dots = 13;
const commas = 14;
const opens = 15;
const closes = 16;
const dotsOrCommas = 17;
const sum = 18;
const runCarry = 19;
const rare = 20;
const closeFollowers = 21;
// v128 locals: the tables, the block's four vectors and their codes, and the last vector of the block
// before, to be stored.
const rows = 22;
const rowCodes = 23;
const lowBits = 24;
const commaToNewline = 25;
const commaCodes = 26;
const vectors = [27, 28, 29, 30];
const codes = [31, 32, 33, 34];
const waiting = 35;

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
const or64 = joined(op.i64Or);
const and64 = joined(op.i64And);
const xor64 = joined(op.i64Xor);
const not = (condition: Ops): Ops => [...condition, ...op.eqz];
const increment = (local: number): Ops => [...op.get(local), ...op.const(1), ...op.add, ...op.set(local)];
const invert = (mask: Ops): Ops => [...mask, ...op.i64Const(-1n), ...op.i64Xor];
/** Indexes are a byte's low four bits, below 16, where a relaxed swizzle is an exact one. */
const swizzle = relaxedSimd ? op.i8x16RelaxedSwizzle : op.i8x16Swizzle;
/** One bit of the codes over the whole block, as a 64-bit mask: `lanes` puts it in the lanes' top bit. */
const bitMask = (lanes: (code: number) => Ops): Ops => [
  ...lanes(codes[0] as number),
  ...op.i8x16Bitmask,
  ...lanes(codes[1] as number),
  ...op.i8x16Bitmask,
  ...op.const(VECTOR),
  ...op.shl,
  ...op.or,
  ...op.i64ExtendI32U,
  ...lanes(codes[2] as number),
  ...op.i8x16Bitmask,
  ...lanes(codes[3] as number),
  ...op.i8x16Bitmask,
  ...op.const(VECTOR),
  ...op.shl,
  ...op.or,
  ...op.i64ExtendI32U,
  ...op.i64Const(32n),
  ...op.i64Shl,
  ...op.i64Or,
];
/**
 * The code's bit `bit` moved to the top of each lane: a shift of the 16-bit lanes, whose carry from
 * one byte into the next lands in bits below the one looked at.
 */
const bitOnTop =
  (bit: number) =>
  (code: number): Ops => [...op.get(code), ...op.const(7 - bit), ...op.i16x8Shl];
/** The bits of a mask moved `by` bytes on: the block starts two bytes before its own, so none is lost. */
const movedOn = (mask: Ops, by = 1): Ops => [...mask, ...op.i64Const(BigInt(by)), ...op.i64Shl];
/** A mask without the bits of the two bytes before the block's own. */
const own = (mask: Ops): Ops => [...mask, ...op.i64Const(~3n), ...op.i64And];

/** After the byte at `at`, a number's integer part: no digit after a 0 there. */
const leadingZeroAfter: Ops = allOf(is(byteAt(at, 1), ZERO), isDigit(byteAt(at, 2)));
/** The byte before `at` may stand before a value: ',' (or its newline; the caller puts one before the start) or '['. */
const startsValue: Ops = anyOf(
  is(byteAt(at, -1), COMMA),
  is(byteAt(at, -1), LF),
  is(byteAt(at, -1), OPEN_BRACKET),
);
/** The byte `offset` after `position` may end a value: ',' or ']' (the padding has a ',' after the end). */
const endsValue = (position: number, offset: number): Ops => [
  ...byteAt(position, offset),
  ...op.set(next),
  ...anyOf(is(op.get(next), COMMA), is(op.get(next), CLOSE_BRACKET)),
];

// biome-ignore format: one step per line
const checkRareByte = [
  ...op.get(at), ...op.load8(DATA), ...op.set(byte),
  ...is(op.get(byte), MINUS), ...op.if,
  // '-' after an exponent was checked with it; any other starts a value: a number or Infinity.
  ...not(isExponent(byteAt(at, -1))), ...op.if,
  ...failIf(not(startsValue)),
  ...failIf(not(anyOf(isDigit(byteAt(at, 1)), is(byteAt(at, 1), UPPER_I)))),
  ...failIf(leadingZeroAfter),
  ...op.end,
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
  ...failIf(not(endsValue(cursor, 1))),
  ...op.else, ...is(op.get(byte), PLUS), ...op.if,
  ...failIf(not(isExponent(byteAt(at, -1)))),
  ...op.else, ...is(op.get(byte), UPPER_I), ...op.if,
  // Infinity, alone or after a '-' that starts a value (checked above), and ending the value.
  ...failIf(not(anyOf(startsValue, is(byteAt(at, -1), MINUS)))),
  ...failIf([...op.get(at), ...op.i64Load(DATA), ...op.i64Const(INFINITY_WORD), ...op.i64Ne]),
  ...failIf(not(endsValue(at, 8))),
  ...op.get(at), ...op.const(8), ...op.add, ...op.set(tokenEnd),
  ...op.else, ...allOf(is(op.get(byte), UPPER_N), [...op.get(at), ...op.get(tokenEnd), ...op.geU]), ...op.if,
  // NaN, as a value of its own (its last N lies within it).
  ...failIf(not(startsValue)),
  ...failIf(not(allOf(is(byteAt(at, 1), LOWER_A), is(byteAt(at, 2), UPPER_N)))),
  ...failIf(not(endsValue(at, 3))),
  ...op.get(at), ...op.const(3), ...op.add, ...op.set(tokenEnd),
  ...op.else,
  // Any other byte is one of the NaN or Infinity just read, or has no place here.
  ...failIf([...op.get(at), ...op.get(tokenEnd), ...op.geU]),
  ...op.end, ...op.end, ...op.end, ...op.end, ...op.end,
];

/** Each vector's code lanes: the code of the byte's low bits where the byte is that row's. */
// biome-ignore format: one step per line
const codeBlock = vectors.flatMap((vector, k) => [
  ...op.get(i), ...op.v128Load(BLOCK_DATA + k * VECTOR), ...op.set(vector),
  ...op.get(rowCodes), ...op.get(vector), ...op.get(lowBits), ...op.v128And, ...swizzle,
  ...op.get(vector),
  ...op.get(rows), ...op.get(vector), ...op.get(lowBits), ...op.v128And, ...swizzle,
  ...op.i8x16Eq, ...op.v128And, ...op.set(codes[k] as number),
]);

/**
 * Among numbers, every comma ends a value: each vector made again with its commas made newlines, and
 * stored; the last one only once the next block has been read, which it overlaps (a store read back
 * before it has landed stalls the loads).
 */
const commaLanes = (k: number): Ops => [
  ...op.get(vectors[k] as number),
  ...[
    ...op.get(codes[k] as number),
    ...op.get(commaCodes),
    ...op.i8x16Eq,
    ...op.get(commaToNewline),
    ...op.v128And,
  ],
  ...op.v128Xor,
];
const storeWaiting: Ops = [...op.get(i), ...op.get(waiting), ...op.v128Store(VECTOR_BEFORE)];
const commasToNewlines: Ops = [
  ...[0, 1, 2].flatMap((k) => [...op.get(i), ...commaLanes(k), ...op.v128Store(BLOCK_DATA + k * VECTOR)]),
  ...commaLanes(3),
  ...op.set(waiting),
];

// biome-ignore format: one step per line
const body = [
  ...op.const(CODES), ...op.v128Load(0), ...op.set(rowCodes),
  ...op.const(LOW_BITS), ...op.v128Load(0), ...op.set(lowBits),
  ...op.const(COMMA_TO_NEWLINE), ...op.v128Load(0), ...op.set(commaToNewline),
  ...op.const(COMMA_CODES), ...op.v128Load(0), ...op.set(commaCodes),
  // Each block is the 64 bytes from two before `i`: those two were the last of the block before and
  // are looked at only as the bytes before the block's own 62. The caller puts "]," before the first:
  // the first value is checked as if a comma stood before it (a 0 there takes no digit after it),
  // and the first '[' as if "]," stood before it. Without lists, brackets have no row: they are rare
  // bytes, which have no place there.
  ...op.get(lists), ...op.if,
  ...op.const(LIST_ROWS), ...op.v128Load(0), ...op.set(rows),
  ...op.else,
  ...op.const(NUMBER_ROWS), ...op.v128Load(0), ...op.set(rows),
  ...op.end,
  ...op.get(start), ...op.set(i),
  ...op.get(i), ...op.v128Load(VECTOR_BEFORE), ...op.set(waiting),
  // Up to the block that holds the comma the padding puts after the last value.
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(end), ...op.gtU, ...op.brIf(1),
  ...codeBlock,
  ...op.get(lists), ...op.eqz, ...op.if, ...storeWaiting, ...op.end,
  ...bitMask((code) => op.get(code)), ...op.set(codeBit7),
  ...bitMask(bitOnTop(6)), ...op.set(codeBit6),
  ...bitMask(bitOnTop(5)), ...op.set(codeBit5),
  ...and64(op.get(codeBit7), op.get(codeBit5)), ...op.set(dots),
  ...and64(op.get(codeBit6), op.get(codeBit5)), ...op.set(closes),
  ...xor64(op.get(codeBit5), op.get(closes)), ...op.set(dotsOrCommas),
  ...xor64(op.get(dotsOrCommas), op.get(dots)), ...op.set(commas),
  ...xor64(op.get(codeBit6), and64(op.get(codeBit7), op.get(codeBit6)), op.get(closes)), ...op.set(opens),
  // The runs of digits and dots over the block's own bytes, with the carry of the run before.
  ...op.get(codeBit7), ...op.i64Const(2n), ...op.i64ShrU,
  ...op.get(dots), ...op.i64Const(2n), ...op.i64ShrU, ...op.i64Add, ...op.get(runCarry), ...op.i64Add, ...op.set(sum),
  ...or64(
    own(or64(
      // '.' or ',' next to another, or a ']' after one of them; '.' or ',' after a '['.
      and64(movedOn(op.get(dotsOrCommas)), op.get(codeBit5)),
      and64(movedOn(op.get(opens)), op.get(dotsOrCommas)),
      // A digit after a 0 that starts a number (after ',' or '[').
      and64(
        xor64(op.get(codeBit7), op.get(dots)),
        movedOn(and64(op.get(codeBit7), op.get(codeBit6))),
        movedOn(or64(op.get(commas), op.get(opens)), 2),
      ),
      // A ']' followed by anything but ','; a "]," by anything but '[', and a '[' anywhere else.
      and64(movedOn(op.get(closes)), invert(op.get(commas))),
      xor64(movedOn(op.get(closes), 2), op.get(opens)),
    )),
    // A second '.' in a run of digits and dots.
    and64([...op.get(dots), ...op.i64Const(2n), ...op.i64ShrU], op.get(sum)),
  ),
  ...op.i64Eqz, ...op.eqz, ...op.if, ...fail, ...op.end,
  ...op.get(sum), ...op.i64Const(BigInt(BLOCK - 2)), ...op.i64ShrU, ...op.set(runCarry),
  ...own(invert(or64(op.get(codeBit7), op.get(codeBit6), op.get(codeBit5)))), ...op.set(rare),
  ...op.block, ...op.loop,
  ...op.get(rare), ...op.i64Eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(rare), ...op.i64Ctz, ...op.i32WrapI64, ...op.add, ...op.const(2), ...op.sub, ...op.set(at),
  ...checkRareByte,
  ...op.get(rare), ...op.get(rare), ...op.i64Const(1n), ...op.i64Sub, ...op.i64And, ...op.set(rare),
  ...op.br(0),
  ...op.end, ...op.end,
  // Each list ends with a ']', and the comma after it ends the value; each number among numbers ends
  // with a comma (the last with the padding's).
  ...op.get(lists), ...op.if,
  ...op.get(count), ...own(op.get(closes)), ...op.i64Popcnt, ...op.i32WrapI64, ...op.add, ...op.set(count),
  ...own(movedOn(op.get(closes))), ...op.set(closeFollowers),
  ...op.block, ...op.loop,
  ...op.get(closeFollowers), ...op.i64Eqz, ...op.brIf(1),
  ...op.get(i), ...op.get(closeFollowers), ...op.i64Ctz, ...op.i32WrapI64, ...op.add, ...op.const(LF), ...op.store8(BLOCK_DATA),
  ...op.get(closeFollowers), ...op.get(closeFollowers), ...op.i64Const(1n), ...op.i64Sub, ...op.i64And, ...op.set(closeFollowers),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.else,
  ...op.get(count), ...own(op.get(commas)), ...op.i64Popcnt, ...op.i32WrapI64, ...op.add, ...op.set(count),
  ...commasToNewlines,
  ...op.end,
  ...op.get(i), ...op.const(BLOCK - 2), ...op.add, ...op.set(i),
  ...op.br(0),
  ...op.end, ...op.end,
  ...op.get(lists), ...op.eqz, ...op.if, ...storeWaiting, ...op.end,
  ...op.get(count),
];

/**
 * What the kernel reads past the content: what may follow a last value, a list or a number, and breaks
 * no rule: a comma (a value ends there), then digits; among lists a '[' first. It covers the blocks'
 * reach (their last bytes, and the bytes a rare byte looks at after it).
 */
const PADDING = 2 * BLOCK;
const LIST_PADDING = Buffer.from(`,[${'1'.repeat(PADDING - 2)}`);
const NUMBER_PADDING = Buffer.from(`,${'1'.repeat(PADDING - 1)}`);

const newKernel = compileKernel<(start: number, end: number, lists: number) => number>(
  {
    params: 3,
    locals: [
      { count: codeBit7 - i, type: I32 },
      { count: rows - codeBit7, type: I64 },
      { count: waiting - rows + 1, type: V128 },
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

  constructor() {
    this.memory.set(TABLES);
  }

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
    if (lists ? last !== CLOSE_BRACKET : !(startsNumber(first) && endsNumber(last))) return -1;
    const size = to - from;
    const offset = this.reserve(size + 1);
    const memory = this.memory;
    memory.set(b.subarray(from, to), DATA + offset);
    memory.set(lists ? LIST_PADDING : NUMBER_PADDING, DATA + offset + size);
    // The two bytes before are the end of the lines before (or unused): "]," while the kernel runs.
    const before = DATA + offset - 2;
    const keptFirst = memory[before] as number;
    const keptSecond = memory[before + 1] as number;
    memory[before] = CLOSE_BRACKET;
    memory[before + 1] = COMMA;
    const values = this.kernel.run(offset, offset + size, lists ? 1 : 0);
    memory[before] = keptFirst;
    memory[before + 1] = keptSecond;
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
    if (reserveMemory(this.kernel.memory, DATA + this.used + size + PADDING))
      this.memory = new Uint8Array(this.kernel.memory.buffer);
    return this.used;
  }
}

function isAsciiDigit(c: number): boolean {
  return c >= ZERO && c <= 0x39;
}

/** The first byte of a number, NaN, Infinity or -Infinity. */
function startsNumber(c: number): boolean {
  return isAsciiDigit(c) || c === MINUS || c === UPPER_N || c === UPPER_I;
}

/** The last byte of a number, NaN or Infinity. */
function endsNumber(c: number): boolean {
  return isAsciiDigit(c) || c === UPPER_N || c === LOWER_Y;
}
