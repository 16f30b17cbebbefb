/**
 * Parquet values as JSON text, from the physical values hyparquet decodes (its own conversions are
 * turned off but for strings, see parquet.ts) and the schema's annotations:
 *   int64 and decimals exact (decimals as numbers with their scale's digits: 19.90), floats as the
 *   shortest decimal that reads back the same, NaN and infinities (which JSON lacks) as null;
 *   timestamps (INT96 too) as ISO-8601 UTC strings to their unit's precision, dates as YYYY-MM-DD,
 *   times as HH:MM:SS.fff; strings, enums and UUIDs as strings; JSON columns as the JSON they hold
 *   (as a string when it is not JSON);
 *   other binary as {"b64": ...}; lists as arrays, maps and structs as objects; nulls as null.
 */
import type { SchemaElement, SchemaTree } from 'hyparquet';
import { shortestFloat32 } from './float32.ts';

/** Writes one value of a column (or of a nested field) as JSON text. */
export type JsonWriter = (value: unknown) => string;

/** Writes a run of a column's values (nulls as null or undefined), one JSON text per value. */
export type ColumnWriter = (values: ArrayLike<unknown>) => string[];

const NULL = 'null';
const utf8 = new TextDecoder();

/** Whether hyparquet assembles this group as a list: the tests its assembly makes. */
function isList(node: SchemaTree): boolean {
  const [repeated] = node.children;
  return (
    node.element.converted_type === 'LIST' &&
    node.children.length === 1 &&
    repeated !== undefined &&
    repeated.children.length <= 1 &&
    repeated.element.repetition_type === 'REPEATED'
  );
}

/** Whether hyparquet assembles this group as a map (an object keyed by the map's keys). */
function isMap(node: SchemaTree): boolean {
  const [entries] = node.children;
  return (
    node.element.converted_type === 'MAP' &&
    node.children.length === 1 &&
    entries !== undefined &&
    entries.children.length === 2 &&
    entries.element.repetition_type === 'REPEATED' &&
    entries.children.every((child) => child.element.repetition_type !== 'REPEATED')
  );
}

/** The node holding a list's elements (3-level lists wrap each in a group of one field). */
function listElement(node: SchemaTree): SchemaTree {
  const repeated = node.children[0] as SchemaTree;
  return repeated.children.length === 1 ? (repeated.children[0] as SchemaTree) : repeated;
}

/**
 * The writer of a top-level column. Plain numbers are written a run at a time by JSON.stringify,
 * several times faster than one by one (and it writes NaN, infinities and nulls as null, as wanted);
 * plain int64s by `join`, which neither loses their digits nor refuses bigints.
 */
export function columnWriter(node: SchemaTree): ColumnWriter {
  const { element } = node;
  const plain = node.children.length === 0 && element.repetition_type !== 'REPEATED';
  if (isPlainNumberColumn(node)) {
    return (values) =>
      values.length === 0 ? [] : JSON.stringify(Array.from(values)).slice(1, -1).split(',');
  }
  if (plain && element.type === 'INT64' && isPlainInteger(element) && element.converted_type !== 'UINT_64') {
    return (values) => {
      if (values.length === 0) return [];
      const texts = (values as unknown as { join(separator: string): string }).join(',').split(',');
      for (let k = 0; k < texts.length; k++) if (texts[k] === '') texts[k] = NULL;
      return texts;
    };
  }
  const write = jsonWriter(node);
  return (values) => Array.from(values, write);
}

/** A column of numbers that JSON writes as JavaScript does: doubles and 32-bit integers, nothing more. */
export function isPlainNumberColumn(node: SchemaTree): boolean {
  return (
    node.children.length === 0 && node.element.repetition_type !== 'REPEATED' && isPlainNumber(node.element)
  );
}

function isPlainInteger(element: SchemaElement): boolean {
  const logical = element.logical_type;
  if (logical !== undefined) return logical.type === 'INTEGER' && (logical.isSigned || logical.bitWidth < 32);
  const converted = element.converted_type;
  return converted === undefined || /^(INT_(8|16|32|64)|UINT_(8|16))$/.test(converted);
}

/** Numbers that JSON writes as JavaScript does: doubles and 32-bit integers without other meaning. */
function isPlainNumber(element: SchemaElement): boolean {
  if (element.type === 'DOUBLE') return true;
  return element.type === 'INT32' && isPlainInteger(element);
}

/** The writer of a nested field (or of one value of a column), whatever its repetition. */
export function jsonWriter(node: SchemaTree): JsonWriter {
  const write = valueWriter(node);
  // A repeated field outside a LIST annotation (the legacy form) is a list of its values.
  return node.element.repetition_type === 'REPEATED' ? arrayWriter(write) : write;
}

function valueWriter(node: SchemaTree): JsonWriter {
  if (isList(node)) return arrayWriter(valueWriter(listElement(node)));
  if (isMap(node)) {
    const value = (node.children[0] as SchemaTree).children.find((child) => child.element.name === 'value');
    return mapWriter(value ? jsonWriter(value) : anyJson);
  }
  if (node.children.length > 0) return structWriter(node.children);
  return nullable(leafWriter(node.element));
}

function nullable(write: JsonWriter): JsonWriter {
  return (value) => (value === null || value === undefined ? NULL : write(value));
}

function arrayWriter(element: JsonWriter): JsonWriter {
  return nullable((value) => {
    const items = value as ArrayLike<unknown>;
    let text = '[';
    for (let k = 0; k < items.length; k++) text += (k > 0 ? ',' : '') + element(items[k]);
    return `${text}]`;
  });
}

function mapWriter(value: JsonWriter): JsonWriter {
  return nullable((map) => {
    let text = '{';
    for (const [key, entry] of Object.entries(map as Record<string, unknown>)) {
      text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${value(entry)}`;
    }
    return `${text}}`;
  });
}

function structWriter(fields: readonly SchemaTree[]): JsonWriter {
  const members = fields.map((field) => ({
    name: field.element.name,
    key: `${JSON.stringify(field.element.name)}:`,
    write: jsonWriter(field),
  }));
  return nullable((struct) => {
    const record = struct as Record<string, unknown>;
    let text = '{';
    for (let k = 0; k < members.length; k++) {
      const member = members[k] as (typeof members)[number];
      text += (k > 0 ? ',' : '') + member.key + member.write(record[member.name]);
    }
    return `${text}}`;
  });
}

function leafWriter(element: SchemaElement): JsonWriter {
  const logical = element.logical_type;
  const converted = element.converted_type;
  if (converted === 'DECIMAL' || logical?.type === 'DECIMAL') {
    const scale = logical?.type === 'DECIMAL' ? logical.scale : (element.scale ?? 0);
    return (value) => decimalText(unscaled(value), scale);
  }
  switch (element.type) {
    case 'BOOLEAN':
      return (value) => (value ? 'true' : 'false');
    case 'INT32':
      if (converted === 'DATE' || logical?.type === 'DATE')
        return (value) => `"${dateText(value as number)}"`;
      if (converted === 'TIME_MILLIS' || logical?.type === 'TIME')
        return (value) => `"${timeText(BigInt(value as number), 1000n, 3)}"`;
      if (converted === 'UINT_32' || (logical?.type === 'INTEGER' && !logical.isSigned))
        return (value) => String((value as number) >>> 0);
      return String;
    case 'INT64': {
      const unit = timeUnit(element);
      if (
        converted === 'TIMESTAMP_MILLIS' ||
        converted === 'TIMESTAMP_MICROS' ||
        logical?.type === 'TIMESTAMP'
      )
        return (value) => `"${timestampText(value as bigint, unit.perSecond, unit.digits)}"`;
      if (converted === 'TIME_MICROS' || logical?.type === 'TIME')
        return (value) => `"${timeText(value as bigint, unit.perSecond, unit.digits)}"`;
      if (converted === 'UINT_64' || (logical?.type === 'INTEGER' && !logical.isSigned))
        return (value) => BigInt.asUintN(64, value as bigint).toString();
      return String;
    }
    // hyparquet turns INT96 (Spark's and Impala's timestamps) into nanoseconds since the epoch.
    case 'INT96':
      return (value) => `"${timestampText(value as bigint, 1_000_000_000n, 9)}"`;
    case 'FLOAT':
      return (value) => (Number.isFinite(value) ? shortestFloat32(value as number) : NULL);
    case 'DOUBLE':
      return (value) => (Number.isFinite(value) ? String(value) : NULL);
    default:
      return bytesWriter(element);
  }
}

/** Text that hyparquet decodes itself (as UTF-8). */
export function isString(element: SchemaElement): boolean {
  return element.converted_type === 'UTF8' || element.logical_type?.type === 'STRING';
}

function bytesWriter(element: SchemaElement): JsonWriter {
  const logical = element.logical_type?.type;
  const converted = element.converted_type;
  if (isString(element)) return JSON.stringify;
  if (converted === 'ENUM' || logical === 'ENUM')
    return (value) => JSON.stringify(utf8.decode(value as Uint8Array));
  if (converted === 'JSON' || logical === 'JSON') return (value) => jsonText(value as Uint8Array);
  if (logical === 'UUID') return (value) => `"${uuidText(value as Uint8Array)}"`;
  if (logical === 'FLOAT16') return (value) => float16Text(value as Uint8Array);
  return (value) => b64(value as Uint8Array);
}

/** A value of a schema the writers do not describe (a map without a value field): as JSON holds it. */
function anyJson(value: unknown): string {
  if (value === null || value === undefined) return NULL;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : NULL;
  if (value instanceof Uint8Array) return b64(value);
  if (Array.isArray(value)) return `[${value.map(anyJson).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value).map(([key, entry]) => `${JSON.stringify(key)}:${anyJson(entry)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

function b64(bytes: Uint8Array): string {
  return `{"b64":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`;
}

/**
 * A JSON column's text as it stands, or as a string when it is not JSON (a row is sent as it is
 * written, unchecked). The whitespace between its tokens may hold newlines, which cannot be inside
 * JSON strings, and a record is one line.
 */
function jsonText(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  try {
    JSON.parse(text);
  } catch {
    return JSON.stringify(text);
  }
  return text.replace(/[\r\n]/g, ' ');
}

function unscaled(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  // Big-endian two's complement, as FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY decimals are stored.
  const bytes = value as Uint8Array;
  if (bytes.length === 0) return 0n;
  return BigInt.asIntN(bytes.length * 8, BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
}

function decimalText(value: bigint, scale: number): string {
  const sign = value < 0n ? '-' : '';
  let digits = (value < 0n ? -value : value).toString();
  if (scale <= 0) return `${sign}${digits}${'0'.repeat(-scale)}`;
  digits = digits.padStart(scale + 1, '0');
  return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function timeUnit(element: SchemaElement): { perSecond: bigint; digits: number } {
  const logical = element.logical_type;
  const unit =
    logical?.type === 'TIMESTAMP' || logical?.type === 'TIME'
      ? logical.unit
      : element.converted_type === 'TIMESTAMP_MILLIS'
        ? 'MILLIS'
        : 'MICROS';
  if (unit === 'MILLIS') return { perSecond: 1000n, digits: 3 };
  if (unit === 'MICROS') return { perSecond: 1_000_000n, digits: 6 };
  return { perSecond: 1_000_000_000n, digits: 9 };
}

function timestampText(value: bigint, perSecond: bigint, digits: number): string {
  let seconds = value / perSecond;
  let fraction = value % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const days = Math.floor(Number(seconds) / 86_400);
  const clock = clockText(seconds - BigInt(days) * 86_400n);
  return `${dateText(days)}T${clock}.${fraction.toString().padStart(digits, '0')}Z`;
}

/**
 * The proleptic Gregorian date of a day count from 1970-01-01, for any year (JavaScript's Date stops
 * at 275760, and Spark writes timestamps beyond): years past 9999 in ISO-8601's expanded form.
 */
function dateText(days: number): string {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText =
    year >= 0 && year <= 9999
      ? String(year).padStart(4, '0')
      : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${yearText}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function timeText(value: bigint, perSecond: bigint, digits: number): string {
  return `${clockText(value / perSecond)}.${(value % perSecond).toString().padStart(digits, '0')}`;
}

/** HH:MM:SS of a number of seconds into a day. */
function clockText(seconds: bigint): string {
  const two = (n: bigint): string => n.toString().padStart(2, '0');
  return `${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}`;
}

function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** IEEE half precision, little-endian as Parquet stores it. */
function float16Text(bytes: Uint8Array): string {
  const bits = ((bytes[1] ?? 0) << 8) | (bytes[0] ?? 0);
  const sign = bits >> 15 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0x1f) return NULL;
  const value =
    exponent === 0
      ? sign * 2 ** -14 * (fraction / 1024)
      : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  return String(value);
}

/** A column's type as `pipeline check` shows it: `int64`, `timestamp(us, UTC)`, `list<string>`. */
export function typeName(node: SchemaTree): string {
  const name = isList(node)
    ? `list<${typeName(listElement(node))}>`
    : isMap(node)
      ? `map<${(node.children[0] as SchemaTree).children.map(typeName).join(', ')}>`
      : node.children.length > 0
        ? `struct<${node.children.map((field) => `${field.element.name}: ${typeName(field)}`).join(', ')}>`
        : leafTypeName(node.element);
  return node.element.repetition_type === 'REPEATED' && !isList(node) ? `repeated ${name}` : name;
}

function leafTypeName(element: SchemaElement): string {
  const logical = element.logical_type;
  const converted = element.converted_type;
  if (logical?.type === 'DECIMAL') return `decimal(${logical.precision}, ${logical.scale})`;
  if (converted === 'DECIMAL') return `decimal(${element.precision}, ${element.scale ?? 0})`;
  if (logical?.type === 'TIMESTAMP' || logical?.type === 'TIME') {
    const unit = { MILLIS: 'ms', MICROS: 'us', NANOS: 'ns' }[logical.unit];
    return `${logical.type.toLowerCase()}(${unit}${logical.isAdjustedToUTC ? ', UTC' : ''})`;
  }
  if (logical?.type === 'INTEGER') return `${logical.isSigned ? 'int' : 'uint'}${logical.bitWidth}`;
  if (logical !== undefined) return logical.type.toLowerCase();
  if (converted !== undefined) return converted.toLowerCase();
  if (element.type === 'INT96') return 'int96 (timestamp)';
  if (element.type === 'BYTE_ARRAY' || element.type === 'FIXED_LEN_BYTE_ARRAY') return 'binary';
  return (element.type ?? 'unknown').toLowerCase();
}
