import { crc32c } from '@node-rs/crc32';

/**
 * TFRecord files of tf.Example records written from the formats' definitions, independently of the
 * readers under test: protobuf wire format by hand, CRC-32C from @node-rs/crc32.
 */

export type ExampleValue = { bytes: Buffer[] } | { ints: number[] };

/** A tf.Example of the given features, in the order given (int64s packed, as TensorFlow writes them). */
export function tfExample(features: Record<string, ExampleValue>): Buffer {
  const entries = Object.entries(features).map(([name, value]) =>
    field(1, Buffer.concat([field(1, Buffer.from(name)), field(2, feature(value))])),
  );
  return field(1, Buffer.concat(entries));
}

/** TFRecord framing: length (u64 LE), masked CRC of the length, the data, masked CRC of the data. */
export function tfRecordFile(records: readonly Buffer[]): Buffer {
  return Buffer.concat(
    records.flatMap((data) => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(data.length));
      return [length, u32(maskedCrc(length)), data, u32(maskedCrc(data))];
    }),
  );
}

function feature(value: ExampleValue): Buffer {
  if ('bytes' in value) return field(1, Buffer.concat(value.bytes.map((bytes) => field(1, bytes))));
  return field(3, field(1, Buffer.concat(value.ints.map((int) => varint(BigInt.asUintN(64, BigInt(int)))))));
}

/** A length-delimited field (wire type 2). */
function field(number: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(BigInt((number << 3) | 2)), varint(BigInt(payload.length)), payload]);
}

function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

function maskedCrc(data: Buffer): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}
