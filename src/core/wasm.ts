/**
 * Just enough of a WebAssembly assembler for the engine's few hot loops: instruction encoders and a
 * one-function module with one memory. The loops are short and listed instruction by instruction
 * where they are used; there is no toolchain to install and nothing generated to commit.
 */

function leb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb128(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

/** Signed LEB128 of a 64-bit constant. */
function signedLeb128Big(value: bigint): number[] {
  const bytes: number[] = [];
  value = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    if ((value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

export const I32 = 0x7f;
export const I64 = 0x7e;
export const V128 = 0x7b;
export const F64 = 0x7c;

/** Instruction encoders, named after the text format. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...leb128(depth)],
  brIf: (depth: number) => [0x0d, ...leb128(depth)],
  return: [0x0f],
  get: (local: number) => [0x20, ...leb128(local)],
  set: (local: number) => [0x21, ...leb128(local)],
  tee: (local: number) => [0x22, ...leb128(local)],
  const: (value: number) => [0x41, ...signedLeb128(value)],
  load8: (offset: number) => [0x2d, 0x00, ...leb128(offset)],
  store8: (offset: number) => [0x3a, 0x00, ...leb128(offset)],
  store: (offset: number) => [0x36, 0x02, ...leb128(offset)],
  eqz: [0x45],
  eq: [0x46],
  ne: [0x47],
  ltU: [0x49],
  gtU: [0x4b],
  geU: [0x4f],
  ctz: [0x68],
  popcnt: [0x69],
  ltS: [0x48],
  gtS: [0x4a],
  geS: [0x4e],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  or: [0x72],
  xor: [0x73],
  shl: [0x74],
  shrU: [0x76],
  i64Const: (value: bigint) => [0x42, ...signedLeb128Big(value)],
  i64Load: (offset: number) => [0x29, 0x00, ...leb128(offset)],
  i64Eqz: [0x50],
  i64Ne: [0x52],
  i64Ctz: [0x7a],
  i64Popcnt: [0x7b],
  i64Add: [0x7c],
  i64Sub: [0x7d],
  i64Mul: [0x7e],
  i64And: [0x83],
  i64Or: [0x84],
  i64Xor: [0x85],
  i64Shl: [0x86],
  i64ShrU: [0x88],
  i32WrapI64: [0xa7],
  i64ExtendI32U: [0xad],
  f64Load: (offset: number) => [0x2b, 0x03, ...leb128(offset)],
  f32Store: (offset: number) => [0x38, 0x02, ...leb128(offset)],
  f64Neg: [0x9a],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f32DemoteF64: [0xb6],
  f64ConvertI64U: [0xba],
  v128Load: (offset: number) => [0xfd, 0x00, 0x00, ...leb128(offset)],
  v128Store: (offset: number) => [0xfd, 0x0b, 0x00, ...leb128(offset)],
  v128Zero: [0xfd, 0x0c, ...Array<number>(16).fill(0)],
  v128And: [0xfd, 0x4e],
  v128Or: [0xfd, 0x50],
  v128Xor: [0xfd, 0x51],
  v128AnyTrue: [0xfd, 0x53],
  /** Lanes of the first operand at the indexes in the second; 0 where an index is 16 or more. */
  i8x16Swizzle: [0xfd, 0x0e],
  /** As i8x16Swizzle for indexes below 16; other indexes give lanes the engine chooses. */
  i8x16RelaxedSwizzle: [0xfd, 0x80, 0x02],
  i8x16Splat: [0xfd, 0x0f],
  i8x16Eq: [0xfd, 0x23],
  i8x16Add: [0xfd, 0x6e],
  i8x16Sub: [0xfd, 0x71],
  i8x16Bitmask: [0xfd, 0x64],
  i16x8ExtaddPairwiseU8: [0xfd, 0x7d],
  i16x8Shl: [0xfd, 0x8b, 0x01],
  i32x4ExtaddPairwiseU16: [0xfd, 0x7f],
  i32x4ExtractLane: (lane: number) => [0xfd, 0x1b, lane],
} as const;

/**
 * Whether the engine has relaxed SIMD (V8 since 11.4, so Node 22): a module whose function
 * `(v128, v128) -> v128` does one relaxed swizzle compiles.
 */
export const relaxedSimd = compiles([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x07, 0x01, 0x60, 0x02, V128, V128, 0x01, V128],
  ...[0x03, 0x02, 0x01, 0x00],
  ...[0x0a, 0x0b, 0x01, 0x09, 0x00, ...op.get(0), ...op.get(1), ...op.i8x16RelaxedSwizzle, ...op.end],
]);

function compiles(bytes: number[]): boolean {
  try {
    new WebAssembly.Module(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

export interface FunctionSpec {
  readonly params: number;
  /** Extra locals by type, in order, after the parameters (all i32). */
  readonly locals: readonly { count: number; type: number }[];
  readonly body: readonly number[];
}

/** A module exporting `memory` and one function `run(i32 × params) -> i32`. */
export function instantiate<Run extends (...args: number[]) => number>(
  spec: FunctionSpec,
  memoryPages: number,
): { memory: WebAssembly.Memory; run: Run } {
  return compileKernel<Run>(spec, memoryPages)();
}

/** The module compiled once; each call of the result is an instance with a memory of its own. */
export function compileKernel<Run extends (...args: number[]) => number>(
  spec: FunctionSpec,
  memoryPages: number,
): () => { memory: WebAssembly.Memory; run: Run } {
  const ascii = (text: string): number[] => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  const section = (id: number, content: number[]): number[] => [id, ...leb128(content.length), ...content];
  const locals = [
    ...leb128(spec.locals.length),
    ...spec.locals.flatMap(({ count, type }) => [...leb128(count), type]),
  ];
  const code = [...locals, ...spec.body, ...op.end];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [0x01, 0x60, ...leb128(spec.params), ...Array(spec.params).fill(I32), 0x01, I32]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, ...leb128(memoryPages)]),
    ...section(7, [0x02, ...ascii('memory'), 0x02, 0x00, ...ascii('run'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb128(code.length), ...code]),
  ];
  const module = new WebAssembly.Module(Uint8Array.from(bytes));
  return () => {
    const instance = new WebAssembly.Instance(module);
    return { memory: instance.exports.memory as WebAssembly.Memory, run: instance.exports.run as Run };
  };
}

const PAGE = 65536;

/** Grows `memory` to hold at least `bytes`; true when it grew, and views of it must be made again. */
export function reserveMemory(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return false;
  memory.grow(Math.ceil((bytes - have) / PAGE));
  return true;
}
