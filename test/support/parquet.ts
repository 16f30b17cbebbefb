import {
  Decimal,
  type Int64,
  makeData,
  makeVector,
  type Table,
  type Time,
  type Timestamp,
  tableToIPC,
  type Vector,
} from 'apache-arrow';
import {
  Compression,
  Table as ParquetTable,
  WriterPropertiesBuilder,
  WriterVersion,
  writeParquet,
} from 'parquet-wasm';
import type { ByteRange, InputFile } from '../../src/core/io.ts';

export interface ParquetWriting {
  readonly compression?: 'none' | 'snappy' | 'gzip' | 'zstd' | 'brotli' | 'lz4' | 'lz4-raw';
  /** Dictionary pages (the writer's default), or every value plain. */
  readonly dictionary?: boolean;
  readonly rowGroupRows?: number;
  /** Data pages of format version 2 (levels uncompressed, beside the values). */
  readonly dataPageV2?: boolean;
}

const CODECS = {
  none: Compression.UNCOMPRESSED,
  snappy: Compression.SNAPPY,
  gzip: Compression.GZIP,
  zstd: Compression.ZSTD,
  brotli: Compression.BROTLI,
  lz4: Compression.LZ4,
  'lz4-raw': Compression.LZ4_RAW,
};

/**
 * An Arrow table as a Parquet file, written by arrow-rs (through parquet-wasm): a writer that shares
 * nothing with the reader under test.
 */
export function parquetFile(table: Table, options: ParquetWriting = {}): Buffer {
  let builder = new WriterPropertiesBuilder()
    .setCompression(CODECS[options.compression ?? 'snappy'])
    .setDictionaryEnabled(options.dictionary ?? true)
    .setWriterVersion(options.dataPageV2 ? WriterVersion.V2 : WriterVersion.V1);
  if (options.rowGroupRows !== undefined) builder = builder.setMaxRowGroupSize(options.rowGroupRows);
  const bytes = writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), builder.build());
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function validity(values: readonly unknown[]): Uint8Array {
  const bits = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((value, k) => {
    if (value !== null) bits[k >> 3] = (bits[k >> 3] ?? 0) | (1 << (k & 7));
  });
  return bits;
}

/**
 * A vector of 64-bit values given exactly (Arrow's builders take timestamps as milliseconds in a
 * double, which cannot hold microseconds since 1970 or int64s beyond 2^53).
 */
export function int64Vector(type: Int64 | Timestamp | Time, values: readonly (bigint | null)[]): Vector {
  return makeVector(
    makeData({
      type: type as Int64,
      length: values.length,
      nullCount: values.filter((value) => value === null).length,
      nullBitmap: validity(values),
      data: BigInt64Array.from(values, (value) => value ?? 0n),
    }),
  );
}

/** A decimal128 vector of unscaled values. */
export function decimalVector(scale: number, precision: number, values: readonly (bigint | null)[]): Vector {
  const words = new Uint32Array(values.length * 4);
  values.forEach((value, k) => {
    const bits = BigInt.asUintN(128, value ?? 0n);
    for (let w = 0; w < 4; w++) words[k * 4 + w] = Number((bits >> BigInt(32 * w)) & 0xffffffffn);
  });
  return makeVector(
    makeData({
      type: new Decimal(scale, precision, 128),
      length: values.length,
      nullCount: values.filter((value) => value === null).length,
      nullBitmap: validity(values),
      data: words,
    }),
  );
}

/** A Parquet file's bytes as an input read in ranges, recording the ranges asked for. */
export function parquetInput(bytes: Buffer): InputFile & { readonly ranges: ByteRange[] } {
  const ranges: ByteRange[] = [];
  return {
    size: bytes.length,
    ranges,
    async *read(range) {
      const { start, end } = range ?? { start: 0, end: bytes.length };
      ranges.push({ start, end });
      // In two chunks, as storage streams them.
      const middle = start + Math.floor((end - start) / 2);
      yield bytes.subarray(start, middle);
      yield bytes.subarray(middle, end);
    },
  };
}
