import { compileKernel, I32, op, reserveMemory } from '../wasm.ts';

/**
 * A table-driven JSON validator: one table lookup per byte, with a stack only at brackets. It checks
 * the grammar of RFC 8259 (UTF-8 validity is left to node:buffer isUtf8) several times faster than a
 * hand-written recursive scanner, which is what lets records be validated at disk speed. A second
 * table also takes the non-finite numbers of model responses (validateJsonWithNonFinite).
 *
 * Every lexical state exists once per context (top level, inside an array, inside an object) so that
 * a comma or the end of a number needs no look at the stack.
 */

const TOP = 0;
const ARR = 1;
const OBJ = 2;
const CONTEXTS = [TOP, ARR, OBJ] as const;

// Special states, below FIRST_PLAIN: the main loop handles them. 0, a table entry never set, is an error.
const PUSH_ARRAY = 1;
const PUSH_OBJECT = 2;
const POP_ARRAY = 3;
const POP_OBJECT = 4;
const FIRST_PLAIN = 5;

let stateCount = FIRST_PLAIN;
const newState = (): number => stateCount++;

// Per context: the state names, filled below.
const valueState: number[] = []; // expecting a value
const afterState: number[] = []; // after a value
const numberEnd: number[][] = []; // number states at which the number may end
const KEY_OR_CLOSE = newState(); // just after '{'
const KEY = newState(); // after ',' in an object
const COLON = newState(); // after a key
const VALUE_OR_CLOSE = newState(); // just after '['
const keyString = newState();
const keyEscape = newState();
const keyHex = [newState(), newState(), newState(), newState()];

interface ContextStates {
  value: number;
  after: number;
  string: number;
  escape: number;
  hex: number[];
  minus: number;
  zero: number;
  int: number;
  dot: number;
  frac: number;
  exp: number;
  expSign: number;
  expDigits: number;
  literals: Map<string, number[]>;
  /** After each letter of NaN but the last; of Infinity. */
  nan: number[];
  infinity: number[];
}

const contexts: ContextStates[] = CONTEXTS.map(() => ({
  value: newState(),
  after: newState(),
  string: newState(),
  escape: newState(),
  hex: [newState(), newState(), newState(), newState()],
  minus: newState(),
  zero: newState(),
  int: newState(),
  dot: newState(),
  frac: newState(),
  exp: newState(),
  expSign: newState(),
  expDigits: newState(),
  literals: new Map(
    ['true', 'false', 'null'].map((word) => [word, Array.from(word.slice(1), () => newState())]),
  ),
  nan: Array.from('Na', () => newState()),
  infinity: Array.from('Infinit', () => newState()),
}));

if (stateCount > 255) throw new Error('JSON validator: too many states for a byte table');
for (const context of CONTEXTS) {
  const s = contexts[context] as ContextStates;
  valueState[context] = s.value;
  afterState[context] = s.after;
  numberEnd[context] = [s.zero, s.int, s.frac, s.expDigits];
}

const WHITESPACE = [0x20, 0x09, 0x0a, 0x0d];
const DIGITS = Array.from({ length: 10 }, (_, k) => 0x30 + k);
const HEX = [...DIGITS, ...Array.from('abcdefABCDEF', (c) => c.charCodeAt(0))];
const ESCAPES = Array.from('"\\/bfnrt', (c) => c.charCodeAt(0));
const code = (c: string): number => c.charCodeAt(0);

/**
 * The transition table: strict JSON, or, with `nonFinite`, JSON whose numbers may also be the bare
 * `NaN`, `Infinity` and `-Infinity` that TensorFlow Serving (like Python's json) writes for non-finite
 * floats, spelled exactly so.
 */
function transitions(nonFinite: boolean): Uint8Array {
  const table = new Uint8Array(stateCount * 256);
  const on = (from: number, bytes: readonly number[], to: number): void => {
    for (const c of bytes) table[from * 256 + c] = to;
  };
  /** The word's first letter from each of `from`, its other letters through `states`, then `done`. */
  const word = (from: readonly number[], text: string, states: readonly number[], done: number): void => {
    for (const state of from) on(state, [code(text[0] as string)], states[0] as number);
    for (let k = 1; k < text.length; k++) {
      on(
        states[k - 1] as number,
        [code(text[k] as string)],
        k + 1 < text.length ? (states[k] as number) : done,
      );
    }
  };
  const stringStates = (string: number, escaped: number, hex: number[], done: number): void => {
    for (let c = 0x20; c < 256; c++) table[string * 256 + c] = string;
    on(string, [code('"')], done);
    on(string, [code('\\')], escaped);
    on(escaped, ESCAPES, string);
    on(escaped, [code('u')], hex[0] as number);
    for (let k = 0; k < 3; k++) on(hex[k] as number, HEX, hex[k + 1] as number);
    on(hex[3] as number, HEX, string);
  };

  stringStates(keyString, keyEscape, keyHex, COLON);
  on(KEY_OR_CLOSE, WHITESPACE, KEY_OR_CLOSE);
  on(KEY_OR_CLOSE, [code('"')], keyString);
  on(KEY_OR_CLOSE, [code('}')], POP_OBJECT);
  on(KEY, WHITESPACE, KEY);
  on(KEY, [code('"')], keyString);
  on(COLON, WHITESPACE, COLON);

  for (const context of CONTEXTS) {
    const s = contexts[context] as ContextStates;

    // What may follow a value here; also what ends a number or a literal.
    const follow = (from: number): void => {
      on(from, WHITESPACE, s.after);
      if (context === ARR) {
        on(from, [code(',')], s.value);
        on(from, [code(']')], POP_ARRAY);
      } else if (context === OBJ) {
        on(from, [code(',')], KEY);
        on(from, [code('}')], POP_OBJECT);
      }
    };

    on(s.value, WHITESPACE, s.value);
    on(s.value, [code('{')], PUSH_OBJECT);
    on(s.value, [code('[')], PUSH_ARRAY);
    on(s.value, [code('"')], s.string);
    on(s.value, [code('-')], s.minus);
    on(s.value, [code('0')], s.zero);
    on(s.value, DIGITS.slice(1), s.int);
    for (const [text, states] of s.literals) word([s.value], text, states, s.after);
    if (nonFinite) {
      word([s.value], 'NaN', s.nan, s.after);
      word([s.value, s.minus], 'Infinity', s.infinity, s.after);
    }
    stringStates(s.string, s.escape, s.hex, s.after);
    follow(s.after);

    on(s.minus, [code('0')], s.zero);
    on(s.minus, DIGITS.slice(1), s.int);
    on(s.int, DIGITS, s.int);
    for (const whole of [s.zero, s.int]) {
      on(whole, [code('.')], s.dot);
      on(whole, [code('e'), code('E')], s.exp);
      follow(whole);
    }
    on(s.dot, DIGITS, s.frac);
    on(s.frac, DIGITS, s.frac);
    on(s.frac, [code('e'), code('E')], s.exp);
    follow(s.frac);
    on(s.exp, [code('+'), code('-')], s.expSign);
    on(s.exp, DIGITS, s.expDigits);
    on(s.expSign, DIGITS, s.expDigits);
    on(s.expDigits, DIGITS, s.expDigits);
    follow(s.expDigits);
  }

  on(COLON, [code(':')], valueState[OBJ] as number);
  // '[' is followed by a value or ']'.
  for (let c = 0; c < 256; c++) {
    table[VALUE_OR_CLOSE * 256 + c] = table[(valueState[ARR] as number) * 256 + c] as number;
  }
  on(VALUE_OR_CLOSE, WHITESPACE, VALUE_OR_CLOSE);
  on(VALUE_OR_CLOSE, [code(']')], POP_ARRAY);
  return table;
}

const topAfter = afterState[TOP] as number;
const topEnds = new Set([topAfter, ...(numberEnd[TOP] as number[])]);

/**
 * Validates that bytes [start, end) hold exactly one JSON value, with optional white space around it.
 * Returns -1 when valid, otherwise the offset from `start` of the first byte that breaks the grammar
 * (`end - start` when the value is incomplete). Depth is limited only by memory.
 */
export const validateJson: Validate = validator(false);

/**
 * As validateJson, for JSON as TensorFlow Serving writes it: a number may also be `NaN`, `Infinity` or
 * `-Infinity`, exactly so (not `nan`, `Inf`, `+Infinity` or `-NaN`).
 */
export const validateJsonWithNonFinite: Validate = validator(true);

type Validate = (b: Uint8Array, start: number, end: number) => number;

/** Each variant's table and kernel instance are made when it is first used. */
function validator(nonFinite: boolean): Validate {
  let walk: TableWalk | undefined;
  return (b, start, end) => {
    walk ??= new TableWalk(transitions(nonFinite));
    return walk.validate(b, start, end);
  };
}

class TableWalk {
  private readonly kernel = newKernel();
  private readonly run = this.kernel.run;
  private readonly stack: number[] = [];
  private positionView = new Int32Array(this.kernel.memory.buffer, POSITION, 1);
  private dataView = new Uint8Array(this.kernel.memory.buffer, DATA);

  constructor(table: Uint8Array) {
    new Uint8Array(this.kernel.memory.buffer, 0, table.length).set(table);
    const flags = new Uint8Array(this.kernel.memory.buffer, RUN_FLAGS, 256);
    for (const s of contexts) {
      for (const digits of [s.int, s.frac, s.expDigits]) flags[digits] = DIGIT_RUN;
      flags[s.string] = STRING_RUN;
    }
    flags[keyString] = STRING_RUN;
  }

  validate(b: Uint8Array, start: number, end: number): number {
    const length = end - start;
    this.ensureCapacity(length);
    this.dataView.set(b.length === length ? b : b.subarray(start, end));
    const { run, stack } = this;
    let depth = 0;
    let context = TOP;
    let state = valueState[TOP] as number;
    let i = 0;
    for (;;) {
      state = run(i, length, state);
      if (state >= FIRST_PLAIN) break;
      i = this.positionView[0] as number;
      switch (state) {
        case PUSH_ARRAY:
          stack[depth++] = context;
          context = ARR;
          state = VALUE_OR_CLOSE;
          break;
        case PUSH_OBJECT:
          stack[depth++] = context;
          context = OBJ;
          state = KEY_OR_CLOSE;
          break;
        case POP_ARRAY:
        case POP_OBJECT:
          context = stack[--depth] as number;
          state = afterState[context] as number;
          break;
        default:
          return i;
      }
      i++;
    }
    return depth === 0 && topEnds.has(state) ? -1 : length;
  }

  private ensureCapacity(length: number): void {
    if (!reserveMemory(this.kernel.memory, DATA + length)) return;
    this.dataView = new Uint8Array(this.kernel.memory.buffer, DATA);
    this.positionView = new Int32Array(this.kernel.memory.buffer, POSITION, 1);
  }
}

/*
 * The per-byte loop runs in WebAssembly: in JavaScript the same table walk costs several times more per
 * byte. Memory holds the transition table at 0 and the record being validated at DATA.
 *
 *   run(i, end, state): while i < end { state = table[state << 8 | data[i]];
 *                                    if state < FIRST_PLAIN { pos = i; return state }
 *                                    i++; then skip the rest of a run of digits or plain string bytes }
 *                       pos = end; return state
 *
 * A table walk is bound by the latency of one load per byte; skipping runs of digits and string
 * characters in a loop of their own, where nothing depends on the state, is what makes it fast.
 */
const RUN_FLAGS = 65536;
const POSITION = RUN_FLAGS + 256;
const DIGIT_RUN = 1;
const STRING_RUN = 2;
const DATA = 131072;
// Parameters, then one local.
const i = 0;
const end = 1;
const state = 2;
const c = 3;

const storePosition = (local: number): number[] => [...op.const(POSITION), ...op.get(local), ...op.store(0)];
const nextByte = [...op.get(i), ...op.const(1), ...op.add, ...op.set(i)];
// biome-ignore format: one step per line
const body = [
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(end), ...op.geU, ...op.brIf(1),
  ...op.get(state), ...op.const(8), ...op.shl, ...op.get(i), ...op.load8(DATA), ...op.or,
  ...op.load8(0), ...op.tee(state),
  ...op.const(FIRST_PLAIN), ...op.ltU, ...op.if, ...storePosition(i), ...op.get(state), ...op.return, ...op.end,
  ...nextByte,
  ...op.get(state), ...op.load8(RUN_FLAGS), ...op.tee(c),
  ...op.const(DIGIT_RUN), ...op.eq,
  ...op.if,
  ...op.loop,
  ...op.get(i), ...op.get(end), ...op.ltU,
  ...op.if,
  ...op.get(i), ...op.load8(DATA), ...op.const(0x30), ...op.sub, ...op.const(10), ...op.ltU,
  ...op.if, ...nextByte, ...op.br(2), ...op.end,
  ...op.end,
  ...op.end,
  ...op.else,
  ...op.get(c), ...op.const(STRING_RUN), ...op.eq,
  ...op.if,
  ...op.loop,
  ...op.get(i), ...op.get(end), ...op.ltU,
  ...op.if,
  ...op.get(i), ...op.load8(DATA), ...op.set(c),
  ...op.get(c), ...op.const(0x20), ...op.geU,
  ...op.get(c), ...op.const(0x22), ...op.ne, ...op.and,
  ...op.get(c), ...op.const(0x5c), ...op.ne, ...op.and,
  ...op.if, ...nextByte, ...op.br(2), ...op.end,
  ...op.end,
  ...op.end,
  ...op.end,
  ...op.end,
  ...op.br(0),
  ...op.end, ...op.end,
  ...storePosition(end), ...op.get(state),
];

const newKernel = compileKernel<(i: number, end: number, state: number) => number>(
  { params: 3, locals: [{ count: 1, type: I32 }], body },
  3,
);
