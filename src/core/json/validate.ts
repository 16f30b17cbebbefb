/**
 * A table-driven JSON validator: one table lookup per byte, with a stack only at brackets. It checks
 * the grammar of RFC 8259 (UTF-8 validity is left to node:buffer isUtf8) several times faster than a
 * hand-written recursive scanner, which is what lets records be validated at disk speed.
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
}));

if (stateCount > 255) throw new Error('JSON validator: too many states for a byte table');

const table = new Uint8Array(stateCount * 256);
const WHITESPACE = [0x20, 0x09, 0x0a, 0x0d];
const DIGITS = Array.from({ length: 10 }, (_, k) => 0x30 + k);
const HEX = [...DIGITS, ...Array.from('abcdefABCDEF', (c) => c.charCodeAt(0))];
const ESCAPES = Array.from('"\\/bfnrt', (c) => c.charCodeAt(0));

const on = (from: number, bytes: readonly number[], to: number): void => {
  for (const c of bytes) table[from * 256 + c] = to;
};
const code = (c: string): number => c.charCodeAt(0);

function stringStates(string: number, escaped: number, hex: number[], done: number): void {
  for (let c = 0x20; c < 256; c++) table[string * 256 + c] = string;
  on(string, [code('"')], done);
  on(string, [code('\\')], escaped);
  on(escaped, ESCAPES, string);
  on(escaped, [code('u')], hex[0] as number);
  for (let k = 0; k < 3; k++) on(hex[k] as number, HEX, hex[k + 1] as number);
  on(hex[3] as number, HEX, string);
}

stringStates(keyString, keyEscape, keyHex, COLON);
on(KEY_OR_CLOSE, WHITESPACE, KEY_OR_CLOSE);
on(KEY_OR_CLOSE, [code('"')], keyString);
on(KEY_OR_CLOSE, [code('}')], POP_OBJECT);
on(KEY, WHITESPACE, KEY);
on(KEY, [code('"')], keyString);
on(COLON, WHITESPACE, COLON);

for (const context of CONTEXTS) {
  const s = contexts[context] as ContextStates;
  valueState[context] = s.value;
  afterState[context] = s.after;
  numberEnd[context] = [s.zero, s.int, s.frac, s.expDigits];

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
  for (const [word, states] of s.literals) {
    on(s.value, [code(word[0] as string)], states[0] as number);
    for (let k = 1; k < word.length; k++) {
      const next = k + 1 < word.length ? (states[k] as number) : s.after;
      on(states[k - 1] as number, [code(word[k] as string)], next);
    }
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

const topAfter = afterState[TOP] as number;
const topEnds = new Set([topAfter, ...(numberEnd[TOP] as number[])]);

/**
 * Validates that bytes [start, end) hold exactly one JSON value, with optional white space around it.
 * Returns -1 when valid, otherwise the offset from `start` of the first byte that breaks the grammar
 * (`end - start` when the value is incomplete). Depth is limited only by memory.
 */
export function validateJson(b: Uint8Array, start: number, end: number): number {
  const length = end - start;
  ensureCapacity(length);
  dataView.set(b.length === length ? b : b.subarray(start, end));
  let depth = 0;
  let context = TOP;
  let state = valueState[TOP] as number;
  let i = 0;
  for (;;) {
    state = run(i, length, state);
    if (state >= FIRST_PLAIN) break;
    i = positionView[0] as number;
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

const stack: number[] = [];

/*
 * The per-byte loop runs in WebAssembly: in JavaScript the same table walk costs several times more per
 * byte. The module is tiny and written out here instruction by instruction. Memory holds the
 * transition table at 0 and the record being validated at DATA_BASE.
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
const DATA_BASE = 131072;
const PAGE = 65536;

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

function section(id: number, content: number[]): number[] {
  return [id, ...leb128(content.length), ...content];
}

function validatorModule(): Uint8Array {
  const ascii = (text: string): number[] => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  const data = leb128(DATA_BASE);
  const i32 = (value: number): number[] => [0x41, ...signedLeb128(value)];
  const storePosition = (local: number): number[] => [...i32(POSITION), 0x20, local, 0x36, 0x02, 0x00];
  // biome-ignore format: one instruction per line, as listed
  const body = [
    0x01, 0x01, 0x7f, // one more local, 3: c (params 0: i, 1: end, 2: state)
    0x02, 0x40, // block
    0x03, 0x40, // loop $next
    0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01, // if i >= end: leave the block
    0x20, 0x02, ...i32(8), 0x74, // state << 8
    0x20, 0x00, 0x2d, 0x00, ...data, // data[i]
    0x72, 0x2d, 0x00, 0x00, 0x22, 0x02, // state = table[...]
    ...i32(FIRST_PLAIN), 0x49, // state < FIRST_PLAIN
    0x04, 0x40, ...storePosition(0), 0x20, 0x02, 0x0f, 0x0b, // then pos = i; return state
    0x20, 0x00, ...i32(1), 0x6a, 0x21, 0x00, // i++
    0x20, 0x02, 0x2d, 0x00, ...leb128(RUN_FLAGS), 0x22, 0x03, // c = flags[state]
    ...i32(DIGIT_RUN), 0x46,
    0x04, 0x40, // if a digit run
    0x03, 0x40, // loop $digits
    0x20, 0x00, 0x20, 0x01, 0x49, // i < end
    0x04, 0x40,
    0x20, 0x00, 0x2d, 0x00, ...data, ...i32(0x30), 0x6b, ...i32(10), 0x49, // data[i] - '0' < 10
    0x04, 0x40, 0x20, 0x00, ...i32(1), 0x6a, 0x21, 0x00, 0x0c, 0x02, 0x0b, // then i++, next digit
    0x0b,
    0x0b, // end loop $digits
    0x05, // else
    0x20, 0x03, ...i32(STRING_RUN), 0x46,
    0x04, 0x40, // if a string run
    0x03, 0x40, // loop $chars
    0x20, 0x00, 0x20, 0x01, 0x49, // i < end
    0x04, 0x40,
    0x20, 0x00, 0x2d, 0x00, ...data, 0x22, 0x03, // c = data[i]
    ...i32(0x20), 0x4f, // c >= 0x20
    0x20, 0x03, ...i32(0x22), 0x47, 0x71, // and c != '"'
    0x20, 0x03, ...i32(0x5c), 0x47, 0x71, // and c != '\\'
    0x04, 0x40, 0x20, 0x00, ...i32(1), 0x6a, 0x21, 0x00, 0x0c, 0x02, 0x0b, // then i++, next char
    0x0b,
    0x0b, // end loop $chars
    0x0b, // end if a string run
    0x0b, // end if/else
    0x0c, 0x00, // next byte
    0x0b, // end loop $next
    0x0b, // end block
    ...storePosition(1), 0x20, 0x02, // pos = end; state
    0x0b,
  ];
  // biome-ignore format: the module sections
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x03]),
    ...section(7, [0x02, ...ascii('memory'), 0x02, 0x00, ...ascii('run'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb128(body.length), ...body]),
  ];
  return Uint8Array.from(bytes);
}

const instance = new WebAssembly.Instance(new WebAssembly.Module(validatorModule()));
const memory = instance.exports.memory as WebAssembly.Memory;
const run = instance.exports.run as (i: number, end: number, state: number) => number;
let positionView = new Int32Array(memory.buffer, POSITION, 1);
let dataView = new Uint8Array(memory.buffer, DATA_BASE);
new Uint8Array(memory.buffer, 0, table.length).set(table);
const flags = new Uint8Array(memory.buffer, RUN_FLAGS, 256);
for (const s of contexts) {
  for (const digits of [s.int, s.frac, s.expDigits]) flags[digits] = DIGIT_RUN;
  flags[s.string] = STRING_RUN;
}
flags[keyString] = STRING_RUN;

function ensureCapacity(length: number): void {
  if (dataView.length >= length) return;
  memory.grow(Math.ceil((length - dataView.length) / PAGE));
  dataView = new Uint8Array(memory.buffer, DATA_BASE);
  positionView = new Int32Array(memory.buffer, POSITION, 1);
}
