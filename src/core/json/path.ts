import { FilterMismatchError, FilterSyntaxError } from '../errors.ts';
import {
  arrayElements,
  forEachMember,
  type Spans,
  skipSpace,
  skipString,
  skipValue,
  trimSpan,
} from './scan.ts';

/**
 * The JSONPath subset SageMaker documents for DataProcessing filters: `$`, `.name`, `['name']`,
 * `['a','b']`, `[n]`, `[n,m]`, `[start:end]` (negative indexes count from the end), `*` and `[*]`.
 * A selector that picks several values must be the last one. It is applied to JSON bytes and gives
 * JSON bytes, without decoding numbers or strings.
 */

type IndexItem = { kind: 'index'; index: number } | { kind: 'slice'; start?: number; end?: number };

/** A name of a names list, with what starts its member in the object the list assembles. */
type NamedMember = { name: string; bytes: Buffer; first: Buffer; next: Buffer };

type Segment =
  | { kind: 'name'; name: string; bytes: Buffer }
  | { kind: 'index'; index: number }
  | { kind: 'names'; names: NamedMember[] }
  | { kind: 'items'; items: IndexItem[] }
  | { kind: 'wildcard' };

/** Where a selection is: a span of the input when one value is selected, new bytes when several are. */
export interface Selected {
  bytes: Buffer;
  start: number;
  end: number;
}

export interface JsonPath {
  readonly expression: string;
  /** True for `$`: the value itself. */
  readonly isRoot: boolean;
  /**
   * The members of an object this path starts by selecting (`$.a.b`: a; `$['a','b']`: a and b), so a
   * reader may read only those; undefined when it needs the whole value.
   */
  readonly members?: readonly string[];
  /** True for `$['a','b']` (names not repeated): the object of those members alone, in that order. */
  readonly picksMembers: boolean;
  /**
   * Selects from the valid JSON value in b[start, end) into `into`, without copying when a single value
   * is selected. Throws FilterMismatchError when nothing matches.
   */
  select(b: Buffer, start: number, end: number, into: Selected): void;
}

export function compileJsonPath(expression: string): JsonPath {
  const segments = parse(expression);
  const isRoot = segments.length === 0;
  const [first] = segments;
  const members =
    first?.kind === 'name'
      ? [first.name]
      : first?.kind === 'names'
        ? first.names.map(({ name }) => name)
        : undefined;
  const picksMembers =
    segments.length === 1 &&
    first?.kind === 'names' &&
    new Set(first.names.map(({ name }) => name)).size === first.names.length;
  return {
    expression,
    isRoot,
    ...(members && { members }),
    picksMembers,
    select(b, start, end, into) {
      if (isRoot) {
        into.bytes = b;
        [into.start, into.end] = trimSpan(b, start, end);
      } else {
        [start, end] = trimSpan(b, start, end);
        evaluate(expression, segments, b, start, end, into);
      }
    },
  };
}

function parse(expression: string): Segment[] {
  const fail = (reason: string): never => {
    throw new FilterSyntaxError(expression, reason);
  };
  if (!expression.startsWith('$')) fail('must start with $');
  const segments: Segment[] = [];
  let i = 1;
  while (i < expression.length) {
    const last = segments[segments.length - 1];
    if (last && (last.kind === 'names' || last.kind === 'items' || last.kind === 'wildcard')) {
      fail('a selector that picks several values must be the last one');
    }
    const c = expression[i];
    if (c === '.') {
      const match = /^\.([A-Za-z_$][\w$-]*|\*)/.exec(expression.slice(i));
      if (!match?.[1]) return fail(`expected a name after '.' at position ${i}`);
      segments.push(match[1] === '*' ? { kind: 'wildcard' } : named(match[1]));
      i += match[0].length;
    } else if (c === '[') {
      const close = findClose(expression, i);
      if (close < 0) fail(`unclosed '[' at position ${i}`);
      segments.push(bracket(expression.slice(i + 1, close).trim(), fail));
      i = close + 1;
    } else {
      fail(`unexpected '${c}' at position ${i}`);
    }
  }
  return segments;
}

function named(name: string): { kind: 'name'; name: string; bytes: Buffer } {
  return { kind: 'name', name, bytes: Buffer.from(name) };
}

function findClose(expression: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < expression.length; i++) {
    const c = expression[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === ']') {
      return i;
    }
  }
  return -1;
}

function bracket(body: string, fail: (reason: string) => never): Segment {
  if (body === '*') return { kind: 'wildcard' };
  if (body.startsWith("'") || body.startsWith('"')) {
    const names: NamedMember[] = [];
    const pattern = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
    // Each name is followed by a comma and another name, or by the end of the list.
    let closed = false;
    while (!closed) {
      const match = pattern.exec(body);
      if (match === null) break;
      const raw = match[1] ?? match[2] ?? '';
      const name = raw.replace(/\\(.)/g, '$1');
      const key = JSON.stringify(name);
      names.push({ ...named(name), first: Buffer.from(`{${key}:`), next: Buffer.from(`,${key}:`) });
      closed = match[3] === '';
    }
    if (!closed) fail(`invalid name list [${body}]`);
    const [first] = names;
    return names.length === 1 && first
      ? { kind: 'name', name: first.name, bytes: first.bytes }
      : { kind: 'names', names };
  }
  const items: IndexItem[] = body.split(',').map((part) => {
    const text = part.trim();
    const slice = /^(-?\d+)?\s*:\s*(-?\d+)?$/.exec(text);
    if (slice) {
      const item: IndexItem = { kind: 'slice' };
      if (slice[1] !== undefined) item.start = Number(slice[1]);
      if (slice[2] !== undefined) item.end = Number(slice[2]);
      return item;
    }
    if (/^-?\d+$/.test(text)) return { kind: 'index', index: Number(text) };
    return fail(`invalid index or slice '${text}'`);
  });
  const [first] = items;
  return items.length === 1 && first?.kind === 'index'
    ? { kind: 'index', index: first.index }
    : { kind: 'items', items };
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const COMMA = 0x2c;

function evaluate(
  expression: string,
  segments: Segment[],
  b: Buffer,
  start: number,
  end: number,
  into: Selected,
): void {
  const assembled = (bytes: Buffer): void => {
    into.bytes = bytes;
    into.start = 0;
    into.end = bytes.length;
  };
  const mismatch = (reason: string): FilterMismatchError =>
    new FilterMismatchError(`${expression}: ${reason}`);
  for (const segment of segments) {
    const c = b[start];
    switch (segment.kind) {
      case 'name': {
        if (c !== OPEN_BRACE) throw mismatch(`'${segment.name}' asked of a value that is not an object`);
        const found = findMember(b, start, end, segment.bytes, segment.name);
        if (!found) throw mismatch(`no member '${segment.name}'`);
        [start, end] = found;
        break;
      }
      case 'index': {
        if (c !== OPEN_BRACKET) throw mismatch(`[${segment.index}] asked of a value that is not an array`);
        const spans = arrayElements(b, start, end);
        const at = resolveIndex(segment.index, spans.starts.length);
        if (at === undefined)
          throw mismatch(`index ${segment.index} is out of range for ${spans.starts.length} elements`);
        start = spans.starts[at] as number;
        end = spans.ends[at] as number;
        break;
      }
      case 'names': {
        if (c !== OPEN_BRACE) throw mismatch('names asked of a value that is not an object');
        const parts: Buffer[] = [];
        for (const { name, bytes, first, next } of segment.names) {
          const found = findMember(b, start, end, bytes, name);
          if (!found) continue;
          parts.push(parts.length === 0 ? first : next, b.subarray(found[0], found[1]));
        }
        if (parts.length === 0) throw mismatch('none of the names is a member');
        parts.push(Buffer.from('}'));
        assembled(Buffer.concat(parts));
        return;
      }
      case 'items': {
        if (c !== OPEN_BRACKET) throw mismatch('indexes asked of a value that is not an array');
        assembled(assembleArray(b, selectItems(arrayElements(b, start, end), segment.items, mismatch)));
        return;
      }
      case 'wildcard': {
        if (c === OPEN_BRACKET) break;
        if (c !== OPEN_BRACE) throw mismatch('* asked of a value that is neither an object nor an array');
        const spans: Spans = { starts: [], ends: [] };
        forEachMember(b, start, end, (_ks, _ke, vs, ve) => {
          spans.starts.push(vs);
          spans.ends.push(ve);
          return true;
        });
        assembled(assembleArray(b, spans));
        return;
      }
    }
  }
  into.bytes = b;
  into.start = start;
  into.end = end;
}

function findMember(
  b: Buffer,
  start: number,
  end: number,
  key: Buffer,
  name: string,
): [number, number] | undefined {
  let i = skipSpace(b, start + 1, end);
  while (b[i] === QUOTE) {
    const keyEnd = skipString(b, i, end) - 1;
    const valueStart = skipSpace(b, skipSpace(b, keyEnd + 1, end) + 1, end);
    const valueEnd = skipValue(b, valueStart, end);
    if (keyEquals(b, i + 1, keyEnd, key, name)) return [valueStart, valueEnd];
    i = skipSpace(b, valueEnd, end);
    if (b[i] !== COMMA) return undefined;
    i = skipSpace(b, i + 1, end);
  }
  return undefined;
}

function keyEquals(b: Buffer, ks: number, ke: number, key: Buffer, name: string): boolean {
  let escaped = false;
  for (let i = ks; i < ke; i++) if (b[i] === BACKSLASH) escaped = true;
  if (escaped) return JSON.parse(b.toString('utf8', ks - 1, ke + 1)) === name;
  if (ke - ks !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (b[ks + k] !== key[k]) return false;
  return true;
}

function resolveIndex(index: number, length: number): number | undefined {
  const at = index < 0 ? length + index : index;
  return at >= 0 && at < length ? at : undefined;
}

function selectItems(
  spans: Spans,
  items: IndexItem[],
  mismatch: (reason: string) => FilterMismatchError,
): Spans {
  const length = spans.starts.length;
  const picked: Spans = { starts: [], ends: [] };
  const take = (at: number): void => {
    picked.starts.push(spans.starts[at] as number);
    picked.ends.push(spans.ends[at] as number);
  };
  for (const item of items) {
    if (item.kind === 'index') {
      const at = resolveIndex(item.index, length);
      if (at === undefined) throw mismatch(`index ${item.index} is out of range for ${length} elements`);
      else take(at);
    } else {
      const from = clamp(item.start ?? 0, length);
      const to = clamp(item.end ?? length, length);
      for (let at = from; at < to; at++) take(at);
    }
  }
  return picked;
}

function clamp(index: number, length: number): number {
  const at = index < 0 ? length + index : index;
  return Math.min(Math.max(at, 0), length);
}

function assembleArray(b: Buffer, spans: Spans): Buffer {
  let size = 2;
  const count = spans.starts.length;
  for (let k = 0; k < count; k++) size += (spans.ends[k] as number) - (spans.starts[k] as number) + 1;
  const out = Buffer.allocUnsafe(size - (count > 0 ? 1 : 0));
  let at = 0;
  out[at++] = OPEN_BRACKET;
  for (let k = 0; k < count; k++) {
    if (k > 0) out[at++] = 0x2c;
    at += b.copy(out, at, spans.starts[k] as number, spans.ends[k] as number);
  }
  out[at++] = 0x5d;
  return out;
}
