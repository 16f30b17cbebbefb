import { RecordTooLargeError, ResponseFormatError } from '../errors.ts';
import { arrayElements, type Spans, skipSpace, skipString, skipValue, trimSpan } from '../json/scan.ts';

/**
 * TensorFlow Serving's REST bodies, on bytes: requests built from instance JSON without re-encoding
 * it, and responses split into one output per record without decoding numbers.
 */

export type TfsMethod = 'predict' | 'classify' | 'regress';

const COMMA = 0x2c;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;

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
 * turned into one list per input; other instances are sent as one list.
 */
export function columnarRequest(instances: readonly Uint8Array[]): Buffer {
  const first = instances[0];
  if (first === undefined || first[0] !== OPEN_BRACE) return wrapList('{"inputs":[', instances, ']}');
  const columns = new Map<string, string[]>();
  instances.forEach((instance, row) => {
    const value = JSON.parse(Buffer.from(instance).toString('utf8')) as Record<string, unknown>;
    for (const [name, column] of Object.entries(value)) {
      const list = columns.get(name) ?? [];
      if (list.length !== row)
        throw new ResponseFormatError(`instance ${row + 1} does not have the inputs of the first`);
      list.push(JSON.stringify(column));
      columns.set(name, list);
    }
  });
  const body = [...columns].map(([name, list]) => `${JSON.stringify(name)}:[${list.join(',')}]`).join(',');
  return Buffer.from(`{"inputs":{${body}}}`);
}

/** Binary data as TFS JSON expects it. */
export function b64(data: Uint8Array): string {
  return `{"b64":${JSON.stringify(Buffer.from(data).toString('base64'))}}`;
}

function wrapList(head: string, items: readonly Uint8Array[], tail: string): Buffer {
  let size = head.length + tail.length + Math.max(0, items.length - 1);
  for (const item of items) size += item.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'latin1');
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
 * per record, returned as new bytes in `assembled`), or of `results` (classify and regress).
 */
export function splitResponse(
  b: Buffer,
  start: number,
  end: number,
  method: TfsMethod,
): { spans: Spans; assembled?: Buffer } {
  [start, end] = trimSpan(b, start, end);
  if (b[start] !== OPEN_BRACE)
    throw new ResponseFormatError(`response is not a JSON object: ${preview(b, start, end)}`);
  const wanted = method === 'predict' ? ['predictions', 'outputs'] : ['results'];
  let i = skipSpace(b, start + 1, end);
  while (b[i] === QUOTE) {
    const keyEnd = skipString(b, i, end);
    const key = b.toString('utf8', i + 1, keyEnd - 1);
    const valueStart = skipSpace(b, skipSpace(b, keyEnd, end) + 1, end);
    const valueEnd = skipValue(b, valueStart, end);
    if (key === 'error') {
      throw new ResponseFormatError(`model answered an error: ${b.toString('utf8', valueStart, valueEnd)}`);
    }
    if (wanted.includes(key)) {
      const view = b.subarray(0, valueEnd);
      if (b[valueStart] === OPEN_BRACKET) return { spans: arrayElements(view, valueStart, valueEnd) };
      if (key === 'outputs' && b[valueStart] === OPEN_BRACE) return transposeOutputs(b, valueStart, valueEnd);
      throw new ResponseFormatError(`"${key}" is not a list: ${preview(b, valueStart, valueEnd)}`);
    }
    i = skipSpace(b, valueEnd, end);
    if (b[i] !== COMMA) break;
    i = skipSpace(b, i + 1, end);
  }
  if (b[i] !== CLOSE_BRACE && i < end)
    throw new ResponseFormatError(`response is not valid JSON: ${preview(b, start, end)}`);
  throw new ResponseFormatError(`response has no "${wanted.join('" or "')}": ${preview(b, start, end)}`);
}

/** Columnar `{"outputs":{"a":[...],"b":[...]}}` → one `{"a":..,"b":..}` per record. */
function transposeOutputs(b: Buffer, start: number, end: number): { spans: Spans; assembled: Buffer } {
  const value = JSON.parse(b.toString('utf8', start, end)) as Record<string, unknown>;
  const names = Object.keys(value);
  const columns = names.map((name) => {
    const column = value[name];
    if (!Array.isArray(column)) throw new ResponseFormatError(`output "${name}" is not a list`);
    return column;
  });
  const rows = columns[0]?.length ?? 0;
  if (columns.some((column) => column.length !== rows)) {
    throw new ResponseFormatError(`outputs ${names.join(', ')} do not have the same number of records`);
  }
  const parts: string[] = [];
  for (let row = 0; row < rows; row++) {
    parts.push(JSON.stringify(Object.fromEntries(names.map((name, k) => [name, columns[k]?.[row]]))));
  }
  const assembled = Buffer.from(`[${parts.join(',')}]`);
  return { spans: arrayElements(assembled, 0, assembled.length), assembled };
}

function preview(b: Buffer, start: number, end: number): string {
  const text = b.toString('utf8', start, Math.min(end, start + 200));
  return end - start > 200 ? `${text}...` : text;
}
