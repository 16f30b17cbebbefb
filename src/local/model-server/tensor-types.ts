/**
 * The tensor types the local model server feeds and answers, as onnxruntime names them, with how a
 * JSON value becomes an element of each and how an element is written back in TFS's JSON.
 */
import { RequestError } from '../errors.ts';
import { writeFloat32 } from './format.ts';
import type { JsonBytes } from './json-bytes.ts';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

interface TypeRule {
  /** TensorFlow's name of the type, which TFS's error messages use. */
  readonly tfName: string;
  /** TFS metadata's dtype. */
  readonly dtype: string;
  readonly allocate: (size: number) => TensorData;
  /** The element for a JSON value, or undefined when the value cannot be one. */
  readonly convert: (value: unknown) => number | bigint | string | undefined;
}

const integer =
  (min: number, max: number) =>
  (value: unknown): number | undefined =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;

const bigInteger =
  (min: bigint, max: bigint) =>
  (value: unknown): bigint | undefined => {
    const whole =
      typeof value === 'bigint'
        ? value
        : typeof value === 'number' && Number.isSafeInteger(value)
          ? BigInt(value)
          : undefined;
    return whole !== undefined && whole >= min && whole <= max ? whole : undefined;
  };

const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

const TYPES: Readonly<Record<string, TypeRule>> = {
  float32: { tfName: 'float', dtype: 'DT_FLOAT', allocate: (n) => new Float32Array(n), convert: number },
  float64: { tfName: 'double', dtype: 'DT_DOUBLE', allocate: (n) => new Float64Array(n), convert: number },
  int8: { tfName: 'int8', dtype: 'DT_INT8', allocate: (n) => new Int8Array(n), convert: integer(-128, 127) },
  int16: {
    tfName: 'int16',
    dtype: 'DT_INT16',
    allocate: (n) => new Int16Array(n),
    convert: integer(-32768, 32767),
  },
  int32: {
    tfName: 'int32',
    dtype: 'DT_INT32',
    allocate: (n) => new Int32Array(n),
    convert: integer(-(2 ** 31), 2 ** 31 - 1),
  },
  int64: {
    tfName: 'int64',
    dtype: 'DT_INT64',
    allocate: (n) => new BigInt64Array(n),
    convert: bigInteger(-(2n ** 63n), 2n ** 63n - 1n),
  },
  uint8: { tfName: 'uint8', dtype: 'DT_UINT8', allocate: (n) => new Uint8Array(n), convert: integer(0, 255) },
  uint16: {
    tfName: 'uint16',
    dtype: 'DT_UINT16',
    allocate: (n) => new Uint16Array(n),
    convert: integer(0, 65535),
  },
  uint32: {
    tfName: 'uint32',
    dtype: 'DT_UINT32',
    allocate: (n) => new Uint32Array(n),
    convert: integer(0, 2 ** 32 - 1),
  },
  uint64: {
    tfName: 'uint64',
    dtype: 'DT_UINT64',
    allocate: (n) => new BigUint64Array(n),
    convert: bigInteger(0n, 2n ** 64n - 1n),
  },
  bool: {
    tfName: 'bool',
    dtype: 'DT_BOOL',
    allocate: (n) => new Uint8Array(n),
    convert: (value) => (value === true || value === 1 ? 1 : value === false || value === 0 ? 0 : undefined),
  },
  string: {
    tfName: 'string',
    dtype: 'DT_STRING',
    allocate: (n) => new Array<string>(n).fill(''),
    convert: (value) =>
      typeof value === 'string' ? value : isBase64(value) ? base64Text(value.b64) : undefined,
  },
};

export const TENSOR_TYPES: readonly string[] = Object.keys(TYPES);

export function isTensorType(type: string): boolean {
  return Object.hasOwn(TYPES, type);
}

function rule(type: string): TypeRule {
  const found = TYPES[type];
  if (!found) throw new RangeError(`tensor type ${type} is not one the local model server feeds`);
  return found;
}

export function allocateTensor(type: string, size: number): TensorData {
  return rule(type).allocate(size);
}

/** TFS metadata's dtype for an onnxruntime type (DT_INVALID for one it does not feed). */
export function dtypeOf(type: string): string {
  return TYPES[type]?.dtype ?? 'DT_INVALID';
}

/** Whether a type holds numbers (and so can take the pixels of an image). */
export function isNumericType(type: string): boolean {
  return isTensorType(type) && type !== 'string' && type !== 'bool';
}

/** `{"b64": "..."}`, TFS's JSON for binary data. */
export function isBase64(value: unknown): value is { b64: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'b64' && typeof (value as { b64: unknown }).b64 === 'string';
}

/** Writes the element for `value` at `index`; false when the value cannot be one of the type. */
export function storeElement(type: string, out: TensorData, index: number, value: unknown): boolean {
  const element = rule(type).convert(value);
  if (element === undefined) return false;
  (out as unknown as unknown[])[index] = element;
  return true;
}

/** The 400 for a JSON value that cannot be an element of the input, in TFS's words, naming the input. */
export function typeError(value: unknown, type: string, input: string, where: string): RequestError {
  const tfName = rule(type).tfName;
  const whole = typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));
  const range = whole && isNumericType(type);
  const reason = range ? `is out of range for ${tfName}` : `is not of expected type: ${tfName}`;
  return new RequestError(
    `JSON Value: ${preview(value)} Type: ${jsonType(value)} ${reason} (input ${JSON.stringify(input)}, ${where})`,
  );
}

/** How each element of an output of this type is written in TFS's JSON answers. */
export function elementWriter(type: string, name: string): (out: JsonBytes, value: unknown) => void {
  switch (type) {
    case 'float32':
      return (out, value) => writeFloat32(out, value as number);
    case 'float64':
      return (out, value) => out.text(formatFloat64(value as number));
    case 'string':
      // TFS writes the strings of an output whose name ends in _bytes as binary.
      return name.endsWith('_bytes')
        ? (out, value) => out.text(`{"b64":"${Buffer.from(String(value)).toString('base64')}"}`)
        : (out, value) => out.text(JSON.stringify(value));
    case 'bool':
      return (out, value) => out.text(value ? 'true' : 'false');
    default:
      return (out, value) => out.text(String(value));
  }
}

/** A double as TFS writes one: the shortest digits that read back the same, `.0` after a whole number. */
function formatFloat64(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  const text = String(value).replace('e+', 'e');
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

function base64Text(base64: string): string | undefined {
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  return Buffer.from(text).equals(bytes) ? text : undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return 'Null';
  if (Array.isArray(value)) return 'Array';
  if (typeof value === 'bigint') return 'Number';
  const type = typeof value;
  return type === 'object' ? 'Object' : `${type[0]?.toUpperCase()}${type.slice(1)}`;
}

export function preview(value: unknown): string {
  const text =
    typeof value === 'bigint'
      ? String(value)
      : (JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v)) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
