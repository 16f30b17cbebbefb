import { basename } from 'node:path';
import { fileInput } from '../adapters/file-source.ts';
import type { ByteSink } from '../core/io.ts';
import type { ParquetDescription } from '../core/records/parquet.ts';
import type { ErrorRow } from '../core/shard/error-rows.ts';
import { type ShardIndex, shardFile } from '../core/shard/sharder.ts';
import { type CompiledJob, checkInput, inputBytes, inputReading, resolveJob } from '../core/spec/compile.ts';
import type { SplitType } from '../core/spec/split-types.ts';
import type { Output } from './usage.ts';

export interface FileCheck {
  readonly file: string;
  readonly records: ShardIndex['records'];
  readonly errors: ErrorRow[];
  /** A Parquet file's schema and row groups. */
  readonly parquet?: ParquetDescription;
}

/**
 * Reads files as the Shard step would (same framing, validation, filter and size limit; a Parquet
 * file by row groups, its schema described) without writing shards, and reports what would be
 * quarantined.
 */
export async function checkFiles(
  files: readonly string[],
  job: CompiledJob,
  keep: number,
): Promise<FileCheck[]> {
  const results: FileCheck[] = [];
  for (const file of files) {
    const errors: ErrorRow[] = [];
    let pending = '';
    const discard: ByteSink = { write: async () => {}, close: async () => {}, abort: async () => {} };
    const errorSink: ByteSink = {
      write: async (chunk) => {
        const lines = (pending + Buffer.from(chunk).toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (errors.length < keep) errors.push(JSON.parse(line) as ErrorRow);
      },
      close: async () => {},
      abort: async () => {},
    };
    checkInput(job.spec, file, basename(file));
    const input = inputBytes(job, file, basename(file), await fileInput(file));
    const reading = inputReading(job, file, basename(file));
    const parquet =
      reading.decoding === 'parquet'
        ? await (await import('../core/records/parquet.ts')).describeParquet(input, reading.input)
        : undefined;
    const index = await shardFile(
      input,
      { ...reading, shardBytes: Number.MAX_SAFE_INTEGER },
      { openShard: async () => discard, errors: errorSink },
    );
    results.push({ file, records: index.records, errors, ...(parquet && { parquet }) });
  }
  return results;
}

export interface CheckCommand {
  readonly files: readonly string[];
  readonly contentType: string;
  readonly splitType: SplitType;
  readonly inputFilter?: string;
  readonly csvHeader: boolean;
  readonly maxPayloadMb: number;
  readonly json: boolean;
}

/**
 * `pipeline check`: reports, per file, the records that can be scored and those that would be
 * quarantined (the first few with their reasons). Exit status 1 when some would be quarantined.
 */
export async function checkCommand(command: CheckCommand, output: Output): Promise<number> {
  const { files, maxPayloadMb, inputFilter, splitType } = command;
  // The records are read as a job with these settings would read them; the model is not used.
  const job = resolveJob({
    model: 'unused',
    contentType: command.contentType,
    splitType,
    csvHeader: command.csvHeader,
    maxPayloadInMB: maxPayloadMb,
    maxConcurrentTransforms: 1,
    ...(inputFilter !== undefined && { dataProcessing: { inputFilter } }),
  });
  const results = await checkFiles(files, job, 10);
  for (const result of results) {
    if (command.json) {
      output.stdout(`${JSON.stringify(result)}\n`);
      continue;
    }
    const { records, parquet } = result;
    if (parquet) {
      output.stdout(
        `${result.file}: Parquet, ${count(parquet.rows, 'row')} in ${count(parquet.rowGroups, 'row group')}, columns:\n`,
      );
      for (const column of parquet.columns) output.stdout(`  ${column.name}: ${column.type}\n`);
    }
    output.stdout(
      `${result.file}: ${count(records.in, 'record')}, ${records.sent} can be scored, ${records.errors} would be quarantined` +
        `${records.skipped > 0 ? `, ${count(records.skipped, 'empty line')} skipped` : ''}\n`,
    );
    for (const row of result.errors) {
      const where =
        row.line !== undefined
          ? `line ${row.line}`
          : row.rowGroup !== undefined
            ? `row group ${row.rowGroup}`
            : `byte ${row.offset}`;
      output.stdout(`  record ${row.record} (${where}): ${row.reason}\n`);
    }
    if (records.errors > result.errors.length) {
      output.stdout(`  ... and ${records.errors - result.errors.length} more\n`);
    }
  }
  return results.some((result) => result.records.errors > 0) ? 1 : 0;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
