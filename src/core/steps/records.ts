import { compileJsonPath } from '../json/path.ts';
import type { RecordHandler, RecordReader } from '../records/types.ts';
import type { ShardThreads } from '../shard/pool.ts';
import { readerFor, type ShardOptions } from '../shard/sharder.ts';
import { type JobSpec, maxRecordBytes } from '../spec/job.ts';
import { decodingFor } from '../spec/records.ts';

/** The shard engine's settings for one input of a job. */
export function shardOptionsFor(spec: JobSpec, input: string, workers?: ShardThreads): ShardOptions {
  const inputFilter = spec.dataProcessing.inputFilter;
  if (inputFilter !== undefined) compileJsonPath(inputFilter);
  return {
    input,
    splitType: spec.splitType,
    decoding: decodingFor({
      contentType: spec.contentType,
      splitType: spec.splitType,
      ...(inputFilter !== undefined && { inputFilter }),
    }),
    ...(inputFilter !== undefined && { inputFilter }),
    csvHeader: spec.csvHeader,
    maxRecordBytes: maxRecordBytes(spec),
    shardBytes: spec.shardSizeInMB * 1024 * 1024,
    requestPerLine: spec.batchStrategy === 'SingleRecord',
    ...(workers && { workers }),
  };
}

/** The extension a shard gets: what the transform job and its content type expect. */
export function shardExtension(options: ShardOptions): string {
  if (options.decoding !== 'none') return 'jsonl';
  return { Line: 'txt', TFRecord: 'tfrecord', RecordIO: 'rec', None: 'bin' }[options.splitType];
}

/** Reads an input's records again, framed as the Shard step framed them, for the join. */
export function inputReaderFor(options: ShardOptions): (handler: RecordHandler) => RecordReader {
  return (handler) => readerFor(options, handler);
}
