/**
 * tf.Example read as a JSON object `{"feature": [values]}` so that JSONPath filters apply to it.
 *
 *   message Example { Features features = 1; }
 *   message Features { map<string, Feature> feature = 1; }
 *   message Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
 *   message BytesList { repeated bytes value = 1; }
 *   message FloatList { repeated float value = 1 [packed = true]; }
 *   message Int64List { repeated int64 value = 1 [packed = true]; }
 */
import { type Long, Reader, Writer } from 'protobufjs/minimal.js';
import { ExampleDecodeError } from '../errors.ts';
import { shortestFloat32 } from './float32.ts';

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

type FeatureValue =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly values: Uint8Array[] }
  | { readonly kind: 'floats'; readonly values: number[] }
  | { readonly kind: 'ints'; readonly values: bigint[] };

const NONE: FeatureValue = { kind: 'none' };

interface Field {
  readonly number: number;
  readonly wireType: number;
}

function nextField(reader: Reader): Field {
  const tag = reader.tag();
  const field = { number: tag >>> 3, wireType: tag & 7 };
  if (field.number === 0) throw new ExampleDecodeError('malformed tf.Example: field number 0');
  return field;
}

function expectWireType(field: Field, wireType: number, message: string): void {
  // A known field with another wire type means the bytes are not this message at all.
  if (field.wireType !== wireType) {
    throw new ExampleDecodeError(
      `malformed tf.Example: ${message} field ${field.number} has wire type ${field.wireType}, expected ${wireType}`,
    );
  }
}

function subReader(reader: Reader): Reader {
  return Reader.create(reader.bytes());
}

function longToBigInt(value: Long | number): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new ExampleDecodeError('int64 value read without 64-bit support');
    return BigInt(value);
  }
  return BigInt.asIntN(64, (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0));
}

function readBytesList(reader: Reader, into: Uint8Array[]): void {
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number === 1) {
      expectWireType(field, LENGTH_DELIMITED, 'BytesList');
      into.push(reader.bytes());
    } else {
      reader.skipType(field.wireType, 0, field.number);
    }
  }
}

function readFloatList(reader: Reader, into: number[]): void {
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number !== 1) {
      reader.skipType(field.wireType, 0, field.number);
    } else if (field.wireType === LENGTH_DELIMITED) {
      const packed = reader.bytes();
      if (packed.length % 4 !== 0) {
        throw new ExampleDecodeError(`malformed tf.Example: packed floats of ${packed.length} bytes`);
      }
      const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
      for (let i = 0; i < packed.length; i += 4) into.push(view.getFloat32(i, true));
    } else {
      expectWireType(field, FIXED32, 'FloatList');
      into.push(reader.float());
    }
  }
}

function readInt64List(reader: Reader, into: bigint[]): void {
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number !== 1) {
      reader.skipType(field.wireType, 0, field.number);
    } else if (field.wireType === LENGTH_DELIMITED) {
      const packed = subReader(reader);
      while (packed.pos < packed.len) into.push(longToBigInt(packed.int64()));
    } else {
      expectWireType(field, VARINT, 'Int64List');
      into.push(longToBigInt(reader.int64()));
    }
  }
}

/** Merges one encoding of a Feature into `value`: lists of the same kind join, another kind replaces. */
function readFeature(reader: Reader, value: FeatureValue): FeatureValue {
  let current = value;
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number < 1 || field.number > 3) {
      reader.skipType(field.wireType, 0, field.number);
      continue;
    }
    expectWireType(field, LENGTH_DELIMITED, 'Feature');
    const list = subReader(reader);
    if (field.number === 1) {
      if (current.kind !== 'bytes') current = { kind: 'bytes', values: [] };
      readBytesList(list, current.values);
    } else if (field.number === 2) {
      if (current.kind !== 'floats') current = { kind: 'floats', values: [] };
      readFloatList(list, current.values);
    } else {
      if (current.kind !== 'ints') current = { kind: 'ints', values: [] };
      readInt64List(list, current.values);
    }
  }
  return current;
}

function readFeatureEntry(reader: Reader, features: Map<string, FeatureValue>): void {
  let name = '';
  let value = NONE;
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number === 1) {
      expectWireType(field, LENGTH_DELIMITED, 'feature map key');
      name = reader.stringVerify();
    } else if (field.number === 2) {
      expectWireType(field, LENGTH_DELIMITED, 'feature map value');
      value = readFeature(subReader(reader), value);
    } else {
      reader.skipType(field.wireType, 0, field.number);
    }
  }
  features.set(name, value);
}

function readFeatures(reader: Reader, features: Map<string, FeatureValue>): void {
  while (reader.pos < reader.len) {
    const field = nextField(reader);
    if (field.number === 1) {
      expectWireType(field, LENGTH_DELIMITED, 'Features');
      readFeatureEntry(subReader(reader), features);
    } else {
      reader.skipType(field.wireType, 0, field.number);
    }
  }
}

function formatFloat32(value: number, feature: string): string {
  if (!Number.isFinite(value)) {
    throw new ExampleDecodeError(
      `feature ${JSON.stringify(feature)}: float ${value} cannot be written as JSON`,
    );
  }
  return shortestFloat32(value);
}

function valuesToJson(name: string, value: FeatureValue): string {
  switch (value.kind) {
    case 'none':
      return '[]';
    case 'bytes':
      return `[${value.values
        .map(
          (bytes) =>
            `{"b64":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"}`,
        )
        .join(',')}]`;
    case 'floats':
      return `[${value.values.map((float) => formatFloat32(float, name)).join(',')}]`;
    case 'ints':
      return `[${value.values.join(',')}]`;
  }
}

/**
 * A serialized tf.Example as JSON object text, keys in the order they first appear in the bytes.
 * Throws ExampleDecodeError when the bytes are not a tf.Example or hold a float that JSON cannot.
 */
export function exampleToJson(data: Buffer): string {
  const features = new Map<string, FeatureValue>();
  try {
    const reader = Reader.create(data);
    while (reader.pos < reader.len) {
      const field = nextField(reader);
      if (field.number === 1) {
        expectWireType(field, LENGTH_DELIMITED, 'Example');
        readFeatures(subReader(reader), features);
      } else {
        reader.skipType(field.wireType, 0, field.number);
      }
    }
  } catch (error) {
    if (error instanceof ExampleDecodeError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ExampleDecodeError(`malformed tf.Example: ${reason}`, { cause: error });
  }
  const entries: string[] = [];
  for (const [name, value] of features) entries.push(`${JSON.stringify(name)}:${valuesToJson(name, value)}`);
  return `{${entries.join(',')}}`;
}

export type ExampleFeature = { bytes: Buffer[] } | { floats: number[] } | { ints: (number | bigint)[] };

function tag(field: number, wireType: number): number {
  return ((field << 3) | wireType) >>> 0;
}

function bigIntToLong(value: bigint): Long {
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: false };
}

/**
 * Serializes a tf.Example, features in the order of `features`' keys. Floats and int64s are packed
 * unless `packed` is false.
 */
export function encodeExample(
  features: Record<string, ExampleFeature>,
  options: { readonly packed?: boolean } = {},
): Buffer {
  const packed = options.packed ?? true;
  const writer = Writer.create();
  writer.uint32(tag(1, LENGTH_DELIMITED)).fork();
  for (const [name, feature] of Object.entries(features)) {
    writer.uint32(tag(1, LENGTH_DELIMITED)).fork();
    writer.uint32(tag(1, LENGTH_DELIMITED)).string(name);
    writer.uint32(tag(2, LENGTH_DELIMITED)).fork();
    if ('bytes' in feature) {
      writer.uint32(tag(1, LENGTH_DELIMITED)).fork();
      for (const bytes of feature.bytes) writer.uint32(tag(1, LENGTH_DELIMITED)).bytes(bytes);
      writer.ldelim();
    } else if ('floats' in feature) {
      writer.uint32(tag(2, LENGTH_DELIMITED)).fork();
      if (packed && feature.floats.length > 0) {
        writer.uint32(tag(1, LENGTH_DELIMITED)).fork();
        for (const float of feature.floats) writer.float(float);
        writer.ldelim();
      } else {
        for (const float of feature.floats) writer.uint32(tag(1, FIXED32)).float(float);
      }
      writer.ldelim();
    } else {
      writer.uint32(tag(3, LENGTH_DELIMITED)).fork();
      const longs = feature.ints.map((int) => bigIntToLong(BigInt(int)));
      if (packed && longs.length > 0) {
        writer.uint32(tag(1, LENGTH_DELIMITED)).fork();
        for (const long of longs) writer.int64(long);
        writer.ldelim();
      } else {
        for (const long of longs) writer.uint32(tag(1, VARINT)).int64(long);
      }
      writer.ldelim();
    }
    writer.ldelim().ldelim();
  }
  writer.ldelim();
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
