import { basename } from 'node:path';
import { readFileChunks } from '../adapters/file-source.ts';
import type { ByteSink } from '../core/io.ts';
import type { ErrorRow } from '../core/shard/errors.ts';
import { type ShardIndex, shardInput } from '../core/shard/sharder.ts';
import { decodingFor, type RecordSpec } from '../core/spec/records.ts';

export interface CheckOptions extends RecordSpec {
  readonly csvHeader: boolean;
  readonly maxRecordBytes: number;
  /** How many error rows to keep per file for the report. */
  readonly keep: number;
}

export interface FileCheck {
  readonly file: string;
  readonly records: ShardIndex['records'];
  readonly errors: ErrorRow[];
}

/**
 * Reads files as the Shard step would (same framing, validation, filter and size limit) without
 * writing shards, and reports what would be quarantined.
 */
export async function checkFiles(files: readonly string[], options: CheckOptions): Promise<FileCheck[]> {
  const decoding = decodingFor(options);
  const results: FileCheck[] = [];
  for (const file of files) {
    const errors: ErrorRow[] = [];
    let pending = '';
    const discard: ByteSink = { write: async () => {}, close: async () => {}, abort: async () => {} };
    const errorSink: ByteSink = {
      write: async (chunk) => {
        const lines = (pending + Buffer.from(chunk).toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (errors.length < options.keep) errors.push(JSON.parse(line) as ErrorRow);
      },
      close: async () => {},
      abort: async () => {},
    };
    const index = await shardInput(
      readFileChunks(file),
      {
        input: basename(file),
        splitType: options.splitType,
        decoding,
        ...(options.inputFilter !== undefined && { inputFilter: options.inputFilter }),
        csvHeader: options.csvHeader,
        maxRecordBytes: options.maxRecordBytes,
        requestPerLine: false,
        shardBytes: Number.MAX_SAFE_INTEGER,
      },
      { openShard: async () => discard, errors: errorSink },
    );
    results.push({ file, records: index.records, errors });
  }
  return results;
}
