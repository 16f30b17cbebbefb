import { RecordTooLargeError, ResponseFormatError } from '../errors.ts';
import {
  arrayElements,
  forEachMember,
  type Spans,
  skipSpace,
  skipString,
  skipValue,
  trimSpan,
} from '../json/scan.ts';
import { validateJsonWithNonFinite } from '../json/validate.ts';

/**
 * TensorFlow Serving's REST bodies, on bytes: requests built from instance JSON without re-encoding
 * it, and responses split into one output per record without decoding numbers.
 */

export type TfsMethod = 'predict' | 'classify' | 'regress';

const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

/** `{"instances":[a,b,...]}`: the row format, one instance per record. */
export function instancesRequest(instances: readonly Uint8Array[]): Buffer {
  return wrapList('{"instances":[', instances, ']}');
}

/** `{"examples":[...]}` for the classify and regress APIs, whose records are tf.Example-like objects. */
export function examplesRequest(examples: readonly Uint8Array[], signatureName?: string): Buffer {
  const head = signatureName
    ? `{"signature_name":${JSON.stringify(signatureName)},"examples":[`
    : '{"examples":[';
  return wrapList(head, examples, ']}');
}

/**
 * `{"inputs": ...}`: the columnar format. Instances that are objects (one member per named input) are
 * turned into one list per input, their values copied as they are; other instances are sent as one list.
 * Every object must have the inputs of the first, each once.
 */
export function columnarRequest(instances: readonly Uint8Array[]): Buffer {
  const first = instances[0];
  if (first === undefined || first[0] !== OPEN_BRACE) return wrapList('{"inputs":[', instances, ']}');
  const columns = new Map<string, Uint8Array[]>();
  instances.forEach((instance, row) => {
    const differs = (reason: string): never => {
      throw new ResponseFormatError(`instance ${row + 1} ${reason}`);
    };
    const [start, end] = trimSpan(instance, 0, instance.length);
    if (instance[start] !== OPEN_BRACE) differs('is not an object, unlike the first');
    let members = 0;
    forEachMember(instance, start, end, (keyStart, keyEnd, valueStart, valueEnd) => {
      const name = memberName(instance, keyStart, keyEnd);
      let list = columns.get(name);
      if (list === undefined && row === 0) {
        list = [];
        columns.set(name, list);
      }
      if (list === undefined) return differs(`has input ${JSON.stringify(name)}, which the first does not`);
      if (list.length !== row) return differs(`has input ${JSON.stringify(name)} more than once`);
      list.push(instance.subarray(valueStart, valueEnd));
      members++;
      return true;
    });
    if (members !== columns.size) differs('does not have all the inputs of the first');
  });
  const parts: Buffer[] = [Buffer.from('{"inputs":{')];
  for (const [name, list] of columns) {
    parts.push(
      Buffer.from(`${parts.length > 1 ? ',' : ''}${JSON.stringify(name)}:`),
      wrapList('[', list, ']'),
    );
  }
  parts.push(Buffer.from('}}'));
  return Buffer.concat(parts);
}

/** The name of the member whose key is b[keyStart, keyEnd) (inside its quotes). */
function memberName(b: Uint8Array, keyStart: number, keyEnd: number): string {
  const key = Buffer.from(b.buffer, b.byteOffset + keyStart, keyEnd - keyStart);
  return key.includes(BACKSLASH) ? (JSON.parse(`"${key.toString('utf8')}"`) as string) : key.toString('utf8');
}

/** Binary data as TFS JSON expects it. */
export function b64(data: Uint8Array): string {
  return `{"b64":${JSON.stringify(Buffer.from(data).toString('base64'))}}`;
}

function wrapList(head: string, items: readonly Uint8Array[], tail: string): Buffer {
  let size = Buffer.byteLength(head) + tail.length + Math.max(0, items.length - 1);
  for (const item of items) size += item.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'utf8');
  items.forEach((item, k) => {
    if (k > 0) out[at++] = COMMA;
    out.set(item, at);
    at += item.length;
  });
  out.write(tail, at, 'latin1');
  return out;
}

/** Size of the request body `instancesRequest` would build for instances of these sizes. */
export function requestSize(instanceBytes: number, count: number): number {
  return '{"instances":[]}'.length + instanceBytes + Math.max(0, count - 1);
}

/**
 * Groups instances, in order, into requests whose body stays within `maxBytes`: one per request for
 * SingleRecord, as many as fit for MultiRecord. An instance that alone is over the limit cannot be
 * sent: RecordTooLargeError names it (its 1-based position in `instances`).
 */
export function packRequests(
  sizes: readonly number[],
  maxBytes: number,
  strategy: 'SingleRecord' | 'MultiRecord',
): { start: number; end: number }[] {
  const batches: { start: number; end: number }[] = [];
  let start = 0;
  let bytes = 0;
  for (let k = 0; k < sizes.length; k++) {
    const size = sizes[k] as number;
    if (requestSize(size, 1) > maxBytes) throw new RecordTooLargeError(k + 1, requestSize(size, 1), maxBytes);
    const count = k - start + 1;
    if (k > start && (strategy === 'SingleRecord' || requestSize(bytes + size, count) > maxBytes)) {
      batches.push({ start, end: k });
      start = k;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < sizes.length) batches.push({ start, end: sizes.length });
  return batches;
}

/**
 * The spans of the per-record outputs in one TFS response body b[start, end): the elements of
 * `predictions` (predict, row format), of `outputs` (columnar; a map of lists is turned into one object
 * per record, returned as new bytes in `assembled`), or of `results` (classify and regress). The body
 * must be one valid JSON document, whose numbers may be `NaN`, `Infinity` or `-Infinity` as TFS writes
 * non-finite floats; they are passed on as written.
 */
export function splitResponse(
  b: Buffer,
  start: number,
  end: number,
  method: TfsMethod,
): { spans: Spans; assembled?: Buffer } {
  [start, end] = trimSpan(b, start, end);
  const invalidAt = validateJsonWithNonFinite(b, start, end);
  if (invalidAt !== -1) {
    throw new ResponseFormatError(
      `response is not valid JSON (at byte ${invalidAt + 1}): ${preview(b, start, end)}`,
    );
  }
  if (b[start] !== OPEN_BRACE)
    throw new ResponseFormatError(`response is not a JSON object: ${preview(b, start, end)}`);
  const wanted = method === 'predict' ? ['predictions', 'outputs'] : ['results'];
  let i = skipSpace(b, start + 1, end);
  while (b[i] === QUOTE) {
    const keyEnd = skipString(b, i, end);
    const key = b.toString('utf8', i + 1, keyEnd - 1);
    const valueStart = skipSpace(b, skipSpace(b, keyEnd, end) + 1, end);
    if (wanted.includes(key)) {
      if (b[valueStart] === OPEN_BRACKET) return { spans: arrayElements(b, valueStart, end) };
      const valueEnd = skipValue(b, valueStart, end);
      if (key === 'outputs' && b[valueStart] === OPEN_BRACE) return transposeOutputs(b, valueStart, valueEnd);
      throw new ResponseFormatError(`"${key}" is not a list: ${preview(b, valueStart, valueEnd)}`);
    }
    const valueEnd = skipValue(b, valueStart, end);
    if (key === 'error') {
      throw new ResponseFormatError(`model answered an error: ${b.toString('utf8', valueStart, valueEnd)}`);
    }
    i = skipSpace(b, valueEnd, end);
    if (b[i] !== COMMA) break;
    i = skipSpace(b, i + 1, end);
  }
  throw new ResponseFormatError(`response has no "${wanted.join('" or "')}": ${preview(b, start, end)}`);
}

/**
 * Columnar `{"outputs":{"a":[...],"b":[...]}}` → one `{"a":..,"b":..}` per record, from the bytes as
 * they are (an int64 output keeps all its digits).
 */
function transposeOutputs(b: Buffer, start: number, end: number): { spans: Spans; assembled: Buffer } {
  const keys: Buffer[] = [];
  const columns: Spans[] = [];
  forEachMember(b, start, end, (keyStart, keyEnd, valueStart, valueEnd) => {
    if (b[valueStart] !== OPEN_BRACKET) {
      throw new ResponseFormatError(`output "${b.toString('utf8', keyStart, keyEnd)}" is not a list`);
    }
    keys.push(b.subarray(keyStart - 1, keyEnd + 1));
    columns.push(arrayElements(b, valueStart, valueEnd));
    return true;
  });
  const rows = columns[0]?.starts.length ?? 0;
  if (columns.some((column) => column.starts.length !== rows)) {
    const names = keys.map((key) => key.toString('utf8', 1, key.length - 1));
    throw new ResponseFormatError(`outputs ${names.join(', ')} do not have the same number of records`);
  }
  // '[', per row '{' '}' and a comma before all but the first, per member ':' and a comma but one, ']'.
  let size = 2 + Math.max(0, rows - 1) + rows * (2 + Math.max(0, keys.length - 1));
  columns.forEach((column, k) => {
    size += rows * ((keys[k] as Buffer).length + 1);
    for (let row = 0; row < rows; row++)
      size += (column.ends[row] as number) - (column.starts[row] as number);
  });
  const assembled = Buffer.allocUnsafe(size);
  const spans: Spans = { starts: [], ends: [] };
  let at = 0;
  assembled[at++] = OPEN_BRACKET;
  for (let row = 0; row < rows; row++) {
    if (row > 0) assembled[at++] = COMMA;
    spans.starts.push(at);
    assembled[at++] = OPEN_BRACE;
    columns.forEach((column, k) => {
      if (k > 0) assembled[at++] = COMMA;
      at += (keys[k] as Buffer).copy(assembled, at);
      assembled[at++] = COLON;
      at += b.copy(assembled, at, column.starts[row] as number, column.ends[row] as number);
    });
    assembled[at++] = CLOSE_BRACE;
    spans.ends.push(at);
  }
  assembled[at++] = CLOSE_BRACKET;
  return { spans, assembled };
}

function preview(b: Buffer, start: number, end: number): string {
  const text = b.toString('utf8', start, Math.min(end, start + 200));
  return end - start > 200 ? `${text}...` : text;
}

/**
 * Where the values of `predictions` lie in a response that is that one member and nothing else
 * (`{"predictions":[...]}`, white space allowed around the list): the content of the list. For the
 * common case of a merge without join or filter, where a whole response of numbers or flat lists of
 * numbers is turned into lines at once (LineBuffer.appendValues, which also checks that content).
 * Undefined when the response is not of that shape (then use `splitResponse`).
 */
export function compactPredictions(b: Buffer): { start: number; end: number } | undefined {
  const [start, end] = trimSpan(b, 0, b.length);
  if (b[start] !== OPEN_BRACE || b[end - 1] !== CLOSE_BRACE) return undefined;
  const head = skipSpace(b, start + 1, end);
  if (b.toString('latin1', head, head + 14) !== '"predictions":') return undefined;
  const open = skipSpace(b, head + 14, end);
  const [, close] = trimSpan(b, open, end - 1);
  if (b[open] !== OPEN_BRACKET || b[close - 1] !== CLOSE_BRACKET) return undefined;
  return { start: open + 1, end: close - 1 };
}
