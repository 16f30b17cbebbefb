/**
 * Parquet inputs: each row is a record, read as a JSON object `{column: value}` (parquet-json.ts says
 * how values are written). The file is read in byte ranges: its footer, then one row group at a time,
 * only the column chunks asked for, so memory is bounded by the largest row group.
 */
import * as zlib from 'node:zlib';
import {
  type AsyncBuffer,
  type ColumnData,
  type Compressors,
  type FileMetaData,
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type SchemaTree,
} from 'hyparquet';
import { decompressLz4, decompressLz4Raw } from 'hyparquet-compressors/src/lz4.js';
import { ParquetReadError, PipelineError } from '../errors.ts';
import type { InputFile } from '../io.ts';
import { type ColumnWriter, columnWriter, isPlainNumberColumn, isString, typeName } from './parquet-json.ts';
import type { RecordHandler, RecordSource } from './types.ts';

export const PARQUET_CONTENT_TYPE = 'application/x-parquet';

/** Whether an input is read as Parquet: the job says so, or the input's name does. */
export function isParquetInput(contentType: string, key: string): boolean {
  return contentType === PARQUET_CONTENT_TYPE || key.endsWith('.parquet');
}

export interface ParquetReading {
  /** The input's name, in errors. */
  readonly input: string;
  /** The top-level columns to read (those the file lacks are left out); every column when absent. */
  readonly columns?: readonly string[];
  /**
   * Row groups from `first` up to, not including, `end`: a part of a file too large for one reader.
   * Record numbers still count from the file's first row.
   */
  readonly rowGroups?: { readonly first: number; readonly end: number };
}

export interface ParquetColumn {
  readonly name: string;
  readonly type: string;
}

export interface ParquetDescription {
  readonly rows: number;
  readonly rowGroups: number;
  readonly columns: ParquetColumn[];
}

/**
 * Page codecs beyond hyparquet's own (uncompressed and snappy): Node's zlib where it has them, and
 * hyparquet's companion LZ4 decoder (its one small module, not the package's index, which loads
 * WebAssembly the Lambda bundles do not need). LZ4 is the Hadoop-framed codec older writers used (the
 * decoder falls back to raw blocks as Arrow does), LZ4_RAW the one Parquet now specifies.
 */
const compressors: Compressors = {
  GZIP: (input) => zlib.gunzipSync(input),
  BROTLI: (input) => zlib.brotliDecompressSync(input),
  ZSTD: (input) => zlib.zstdDecompressSync(input),
  LZ4: decompressLz4,
  LZ4_RAW: decompressLz4Raw,
};

/** Rows are turned into JSON text this many at a time, then handed to the record handler. */
const BATCH_ROWS = 4096;
const NEWLINE = 0x0a;

/** The file's footer, parsed, with its schema as hyparquet reads it and as its annotations say. */
interface OpenedParquet {
  readonly file: AsyncBuffer;
  /** The metadata hyparquet reads the row groups with: leaf annotations removed (see `physical`). */
  readonly physical: FileMetaData;
  readonly schema: SchemaTree;
  readonly rowGroupRows: number[];
}

/** Hands hyparquet the bytes it asks for, read from the input as ranges. */
function asyncBuffer(file: InputFile): AsyncBuffer {
  return {
    byteLength: file.size,
    async slice(start, end = file.size) {
      const bytes = new Uint8Array(end - start);
      let filled = 0;
      for await (const chunk of file.read({ start, end })) {
        bytes.set(chunk.subarray(0, bytes.length - filled), filled);
        filled += chunk.length;
      }
      if (filled < bytes.length)
        throw new Error(`read ${filled} bytes at ${start}, expected ${bytes.length}`);
      return bytes.buffer;
    },
  };
}

async function openParquet(file: InputFile, input: string): Promise<OpenedParquet> {
  const buffer = asyncBuffer(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer, { geoparquet: false });
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    throw new ParquetReadError(input, undefined, `not a readable Parquet file: ${reason(error)}`, {
      cause: error,
    });
  }
  // hyparquet would turn decimals into floating point (losing digits) and timestamps into Dates
  // (losing microseconds): it reads the physical values, and parquet-json.ts writes them exactly.
  // Strings keep their annotation, so that hyparquet decodes them (map keys too).
  const physical: FileMetaData = {
    ...metadata,
    schema: metadata.schema.map((element) => {
      if (element.num_children || isString(element)) return element;
      const { converted_type: _converted, logical_type: _logical, ...plain } = element;
      return plain;
    }),
  };
  return {
    file: buffer,
    physical,
    schema: parquetSchema(metadata),
    rowGroupRows: metadata.row_groups.map((group) => Number(group.num_rows)),
  };
}

/** The file's schema and size, from its footer alone. */
export async function describeParquet(file: InputFile, input: string): Promise<ParquetDescription> {
  const { schema, rowGroupRows } = await openParquet(file, input);
  return {
    rows: rowGroupRows.reduce((sum, rows) => sum + rows, 0),
    rowGroups: rowGroupRows.length,
    columns: schema.children.map((column) => ({ name: column.element.name, type: typeName(column) })),
  };
}

/** One row group as the footer describes it: its rows, and the bytes of its column chunks in the file. */
export interface ParquetRowGroup {
  readonly rows: number;
  readonly bytes: number;
}

/** The file's row groups, in order, from its footer alone (a ranged read of the file's end). */
export async function parquetRowGroups(file: InputFile, input: string): Promise<ParquetRowGroup[]> {
  const { physical } = await openParquet(file, input);
  return physical.row_groups.map((group) => ({
    rows: Number(group.num_rows),
    bytes: Number(
      group.total_compressed_size ??
        group.columns.reduce((sum, column) => sum + (column.meta_data?.total_compressed_size ?? 0n), 0n),
    ),
  }));
}

export interface ParquetRows {
  /** The columns each row holds, in the order asked for (the file's order when all are read). */
  readonly columns: readonly string[];
  /** The number of the first row read: 1, or for a part of the file, its first row's in the file. */
  readonly firstRecord: number;
  readonly records: RecordSource;
}

/**
 * The rows of a Parquet file as records: JSON objects of the columns read, numbered from 1 in file
 * order, each with its row group (0-based) as its position. Its footer is read here; a file that is
 * not Parquet, or a row group that cannot be decoded, is a ParquetReadError naming the input and the
 * row group.
 */
export async function parquetRows(file: InputFile, reading: ParquetReading): Promise<ParquetRows> {
  const parquet = await openParquet(file, reading.input);
  const part = reading.rowGroups;
  if (part && !(0 <= part.first && part.first < part.end && part.end <= parquet.rowGroupRows.length)) {
    throw new ParquetReadError(
      reading.input,
      undefined,
      `has ${parquet.rowGroupRows.length} row groups, not row groups ${part.first} to ${part.end - 1}: was it replaced while the job ran?`,
    );
  }
  const byName = new Map(parquet.schema.children.map((column) => [column.element.name, column]));
  const chosen = reading.columns
    ? reading.columns.flatMap((name) => byName.get(name) ?? [])
    : parquet.schema.children;
  const columns: RowColumn[] = [...new Set(chosen)].map((column) => ({
    name: column.element.name,
    key: `${JSON.stringify(column.element.name)}:`,
    write: columnWriter(column),
    plainNumber: isPlainNumberColumn(column),
  }));
  const first = reading.rowGroups?.first ?? 0;
  return {
    columns: columns.map((column) => column.name),
    firstRecord: 1 + parquet.rowGroupRows.slice(0, first).reduce((sum, rows) => sum + rows, 0),
    records: (handler) => readRows(parquet, reading, columns, handler),
  };
}

async function* readRows(
  parquet: OpenedParquet,
  reading: ParquetReading,
  columns: readonly RowColumn[],
  handler: RecordHandler,
): AsyncGenerator<void> {
  const names = columns.map((column) => column.name);
  const { first = 0, end = parquet.rowGroupRows.length } = reading.rowGroups ?? {};
  let groupStart = parquet.rowGroupRows.slice(0, first).reduce((sum, rows) => sum + rows, 0);
  for (let group = first; group < end; group++) {
    const rows = parquet.rowGroupRows[group] ?? 0;
    const values = await readRowGroup(parquet, reading.input, group, groupStart, names);
    const runs = columns.map((column) => new ColumnRuns(values.get(column.name) ?? [], groupStart));
    for (let row = 0; row < rows; ) {
      const batchEnd = Math.min(rows, row + BATCH_ROWS);
      let text: string;
      try {
        text = rowsText(columns, runs, row, batchEnd);
      } catch (error) {
        throw rowGroupError(reading.input, group, groupStart, rows, error);
      }
      // The JSON written holds no raw newline: strings escape theirs, so each line is one row.
      const bytes = Buffer.from(text);
      let start = 0;
      for (; row < batchEnd; row++) {
        const newline = bytes.indexOf(NEWLINE, start);
        handler.onRecord(bytes.subarray(start, newline), groupStart + row + 1, group);
        start = newline + 1;
      }
      yield;
    }
    groupStart += rows;
  }
}

interface RowColumn {
  readonly name: string;
  /** `"name":`, as it starts the column's member in a row. */
  readonly key: string;
  readonly write: ColumnWriter;
  /** Its values are numbers JSON writes as JavaScript does (or null). */
  readonly plainNumber: boolean;
}

/** Names an object keeps in the order they were set: not array indexes, not `__proto__`. */
const ORDERED_NAME = /^(?!__proto__$)(?!(0|[1-9]\d*)$)/;

/** Rows [from, to) of a row group as JSON objects, one per line. */
function rowsText(
  columns: readonly RowColumn[],
  runs: readonly ColumnRuns[],
  from: number,
  to: number,
): string {
  const values = runs.map((run) => run.slice(from, to));
  if (columns.every((column) => column.plainNumber && ORDERED_NAME.test(column.name))) {
    // Rows of plain numbers (feature columns): JSON.stringify writes the row objects whole, faster
    // than joining texts; they hold no brace but their own, so '},{' is where one row ends.
    const rows: Record<string, unknown>[] = new Array(to - from);
    for (let k = 0; k < rows.length; k++) {
      const row: Record<string, unknown> = {};
      for (let c = 0; c < columns.length; c++) {
        row[(columns[c] as RowColumn).name] = (values[c] as ArrayLike<unknown>)[k] ?? null;
      }
      rows[k] = row;
    }
    return `${JSON.stringify(rows).slice(1, -1).replaceAll('},{', '}\n{')}\n`;
  }
  const texts = columns.map((column, c) => column.write(values[c] as ArrayLike<unknown>));
  let text = '';
  for (let k = 0; k < to - from; k++) {
    text += '{';
    for (let c = 0; c < columns.length; c++) {
      text += (c > 0 ? ',' : '') + (columns[c] as RowColumn).key + (texts[c] as string[])[k];
    }
    text += '}\n';
  }
  return text;
}

/** The decoded values of one row group's columns, each in the pieces hyparquet gave them. */
async function readRowGroup(
  parquet: OpenedParquet,
  input: string,
  group: number,
  groupStart: number,
  columns: string[],
): Promise<Map<string, ColumnData[]>> {
  const rows = parquet.rowGroupRows[group] ?? 0;
  const values = new Map<string, ColumnData[]>(columns.map((name) => [name, []]));
  if (columns.length === 0 || rows === 0) return values;
  try {
    await parquetRead({
      file: parquet.file,
      metadata: parquet.physical,
      columns,
      rowStart: groupStart,
      rowEnd: groupStart + rows,
      compressors,
      utf8: false,
      geoparquet: false,
      // INT96 is the one conversion left to hyparquet: it gives nanoseconds since the epoch.
      parsers: { timestampFromNanoseconds: (nanos) => nanos },
      onChunk: (chunk) => values.get(chunk.columnName)?.push(chunk),
    });
  } catch (error) {
    throw rowGroupError(input, group, groupStart, rows, error);
  }
  return values;
}

function rowGroupError(input: string, group: number, groupStart: number, rows: number, error: unknown) {
  if (error instanceof PipelineError) return error;
  const where = `rows ${groupStart + 1}-${groupStart + rows}`;
  return new ParquetReadError(input, group, `cannot be read (${where}): ${reason(error)}`, { cause: error });
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A column's values by row, over the runs hyparquet decoded them in. */
class ColumnRuns {
  readonly #runs: ColumnData[];
  readonly #groupStart: number;

  constructor(runs: ColumnData[], groupStart: number) {
    this.#runs = [...runs].sort((a, b) => a.rowStart - b.rowStart);
    this.#groupStart = groupStart;
  }

  /** The values of the row group's rows [from, to) (0-based); undefined where the column was not read. */
  slice(from: number, to: number): ArrayLike<unknown> {
    const start = this.#groupStart + from;
    const end = this.#groupStart + to;
    const within = this.#runs.find((run) => run.rowStart <= start && end <= run.rowEnd);
    if (within) return within.columnData.slice(start - within.rowStart, end - within.rowStart);
    const values: unknown[] = new Array(to - from);
    for (const run of this.#runs) {
      for (let row = Math.max(start, run.rowStart); row < Math.min(end, run.rowEnd); row++) {
        values[row - start] = run.columnData[row - run.rowStart];
      }
    }
    return values;
  }
}
