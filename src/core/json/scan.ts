/**
 * Walking JSON that is already known to be valid (see validate.ts), on bytes: spans of members and
 * elements, so that records can be filtered and re-assembled without converting numbers or strings.
 */

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LETTER_A = 0x61;
const LETTER_Z = 0x7a;
const CAPITAL_I = 0x49;
const CAPITAL_N = 0x4e;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

export function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) break;
    i++;
  }
  return i;
}

/**
 * Position just past the value starting at `i` in JSON that is already known to be valid. It only
 * tracks strings and brackets, which makes it several times faster than validation.
 */
export function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, end);
  if (c === OPEN_BRACKET && end === b.length) {
    const flat = skipFlatArray(b, i);
    if (flat !== -1) return flat;
  }
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    while (i < end) {
      const d = b[i];
      if (d === QUOTE) {
        i = skipString(b, i, end);
        continue;
      }
      if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return end;
  }
  while (i < end) {
    const d = b[i];
    if (
      d === COMMA ||
      d === CLOSE_BRACKET ||
      d === CLOSE_BRACE ||
      d === SPACE ||
      d === LF ||
      d === CR ||
      d === TAB
    )
      break;
    i++;
  }
  return i;
}

/**
 * An array with no string and no nested array (a feature vector, the common case) ends at the next
 * ']': native searches find it much faster than a byte loop. An object inside would hold a key, so a
 * quote. -1 when the array is not that simple. Only for a view that ends where the JSON ends, so that
 * a search cannot run past it.
 */
function skipFlatArray(b: Uint8Array, i: number): number {
  const close = b.indexOf(CLOSE_BRACKET, i + 1);
  if (close === -1) return -1;
  const quote = b.indexOf(QUOTE, i + 1);
  if (quote !== -1 && quote < close) return -1;
  const open = b.indexOf(OPEN_BRACKET, i + 1);
  if (open !== -1 && open < close) return -1;
  return close + 1;
}

/** Position just past the string whose opening quote is at `i`, in valid JSON. */
export function skipString(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = b[i];
    if (c === QUOTE) return i + 1;
    i += c === BACKSLASH ? 2 : 1;
  }
  return end;
}

/** Byte spans [start, end) of a container's direct children, for valid JSON. */
export interface Spans {
  starts: number[];
  ends: number[];
}

/**
 * Calls `member` for each member of the object whose `{` is at `i` (valid JSON), with the key's span
 * (inside the quotes, still escaped) and the value's span. Stops early when `member` returns false.
 */
export function forEachMember(
  b: Uint8Array,
  i: number,
  end: number,
  member: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => boolean,
): number {
  i = skipSpace(b, i + 1, end);
  if (b[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    const keyEnd = skipString(b, i, end);
    const valueStart = skipSpace(b, skipSpace(b, keyEnd, end) + 1, end);
    const valueEnd = skipValue(b, valueStart, end);
    if (!member(i + 1, keyEnd - 1, valueStart, valueEnd)) return valueEnd;
    i = skipSpace(b, valueEnd, end);
    if (b[i] === CLOSE_BRACE) return i + 1;
    i = skipSpace(b, i + 1, end);
  }
}

/**
 * The spans of the elements of the array whose `[` is at `i` (valid JSON). Elements that are flat
 * arrays (feature vectors, class scores) are found with native searches for the next ']', '[' and '"',
 * whose results are kept while they lie ahead, so a long list is still read once.
 */
export function arrayElements(b: Uint8Array, i: number, end: number): Spans {
  const spans: Spans = { starts: [], ends: [] };
  i = skipSpace(b, i + 1, end);
  if (b[i] === CLOSE_BRACKET) return spans;
  let nextOpen = -1;
  let nextQuote = -1;
  for (;;) {
    let valueEnd = -1;
    if (b[i] === OPEN_BRACKET) {
      const close = b.indexOf(CLOSE_BRACKET, i + 1);
      if (nextOpen !== Infinity && nextOpen <= i) nextOpen = found(b.indexOf(OPEN_BRACKET, i + 1));
      if (nextQuote !== Infinity && nextQuote <= i) nextQuote = found(b.indexOf(QUOTE, i + 1));
      if (close !== -1 && close < end && nextOpen > close && nextQuote > close) valueEnd = close + 1;
    }
    if (valueEnd === -1) valueEnd = skipValue(b, i, end);
    spans.starts.push(i);
    spans.ends.push(valueEnd);
    i = skipSpace(b, valueEnd, end);
    if (b[i] !== COMMA) return spans;
    i = skipSpace(b, i + 1, end);
  }
}

function found(at: number): number {
  return at === -1 ? Number.POSITIVE_INFINITY : at;
}

/**
 * Calls `scalar` with the span of each string, number, true, false and null in the valid JSON
 * b[i, end), in the order they are written: the elements of lists and the values of objects (not their
 * keys), at any depth. Numbers include the NaN, Infinity and -Infinity of model responses.
 */
export function forEachScalar(
  b: Uint8Array,
  i: number,
  end: number,
  scalar: (start: number, end: number) => void,
): void {
  while (i < end) {
    const c = b[i] as number;
    if (c === QUOTE) {
      const stringEnd = skipString(b, i, end);
      // A string followed by ':' is a key.
      if (b[skipSpace(b, stringEnd, end)] !== COLON) scalar(i, stringEnd);
      i = stringEnd;
    } else if (
      c === MINUS ||
      (c >= DIGIT_0 && c <= DIGIT_9) ||
      (c >= LETTER_A && c <= LETTER_Z) ||
      c === CAPITAL_N ||
      c === CAPITAL_I
    ) {
      // A number (NaN and Infinity too), true, false or null.
      const valueEnd = skipValue(b, i, end);
      scalar(i, valueEnd);
      i = valueEnd;
    } else {
      // Brackets, braces, commas, colons and white space.
      i++;
    }
  }
}

/** First non-space byte at or after i, and the last non-space byte before end: the value's own span. */
export function trimSpan(b: Uint8Array, start: number, end: number): [number, number] {
  start = skipSpace(b, start, end);
  while (end > start) {
    const c = b[end - 1];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) break;
    end--;
  }
  return [start, end];
}

/** Valid JSON without the white space between tokens, bytes of strings and numbers unchanged. */
export function compactJson(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  let at = 0;
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    if (c === QUOTE) {
      const end = skipString(b, i, b.length);
      out.set(b.subarray(i, end), at);
      at += end - i;
      i = end;
    } else {
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) out[at++] = c;
      i++;
    }
  }
  return out.subarray(0, at);
}
