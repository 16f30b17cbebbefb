import type * as z from 'zod/mini';
import { closestName } from '../closest-name.ts';
import { FilterSyntaxError, JobSpecError, WHOLE_SPEC } from '../errors.ts';
import type { InputFile } from '../io.ts';
import { compileJsonPath, type JsonPath } from '../json/path.ts';
import { IN_ENGLISH } from '../messages.ts';
import { GZIP_SUFFIX, gunzippedInput, withoutGzipSuffix } from '../records/gzip.ts';
import type { Decoding } from '../shard/instances.ts';
import type { ShardOptions } from '../shard/sharder.ts';
import { DEFAULT_JOB, type JobSpec, jobSpecSchema } from './job.ts';
import { type JobSource, mergeJobSources } from './sources.ts';
import type { SplitType } from './split-types.ts';

const MB = 1024 * 1024;
/** The largest request a serverless endpoint takes. */
export const SERVERLESS_PAYLOAD_MB = 4;
/** The largest record a job reads, whatever its maxPayloadInMB: the largest MaxPayloadInMB there is. */
export const MAX_RECORD_MB = 100;

/**
 * A job spec checked once, with everything the steps derive from it worked out once: the steps, the
 * CLI, the webhook and the estimate take this, never the raw spec.
 */
export interface CompiledJob {
  /** The spec as checked: what travels in the state machine's data and in the job's record. */
  readonly spec: JobSpec;
  /** How every input's records are read, checked and encoded: the shard engine's settings. */
  readonly records: Omit<ShardOptions, 'input' | 'workers'>;
  /** What the shards hold, and how the transform job (or the endpoint) reads them. */
  readonly shards: ShardLayout;
  /** The largest request the transform job sends: maxPayloadInMB in bytes (0, no limit: the largest number). */
  readonly transformPayloadBytes: number;
  /** Applied to each record's output in the merge. */
  readonly outputFilter?: JsonPath;
}

export interface ShardLayout {
  /** `instances`: JSON Lines of TFS instances; `original`: the records in their own framing. */
  readonly format: 'instances' | 'original';
  readonly extension: string;
  /** The transform job's ContentType and SplitType over the shards. */
  readonly contentType: string;
  readonly splitType: SplitType;
}

const JSON_TYPES = new Set(['application/json', 'application/jsonlines', 'application/jsons']);
export const PARQUET_CONTENT_TYPE = 'application/x-parquet';

/**
 * Checks a whole spec (every field, then the rules across fields) and compiles it. JobSpecError names
 * the first field that breaks a rule, and the rule.
 */
export function compileJob(value: unknown): CompiledJob {
  const spec = parseSpec(value);
  const { dataProcessing } = spec;
  if (spec.maxPayloadInMB * spec.maxConcurrentTransforms > 100) {
    throw new JobSpecError(
      'maxPayloadInMB',
      `maxPayloadInMB × maxConcurrentTransforms must be at most 100 (here ${spec.maxPayloadInMB} × ${spec.maxConcurrentTransforms})`,
    );
  }
  if (spec.maxPayloadInMB === 0 && spec.batchStrategy === 'MultiRecord') {
    throw new JobSpecError('maxPayloadInMB', '0 (no limit) only goes with batchStrategy SingleRecord');
  }
  if (spec.contentType === PARQUET_CONTENT_TYPE) refuseParquet(spec);
  if (dataProcessing.joinSource === 'Input' && spec.splitType === 'None') {
    throw new JobSpecError('dataProcessing.joinSource', 'joining records needs a splitType other than None');
  }
  for (const field of ['inputFilter', 'outputFilter'] as const) {
    const filter = dataProcessing[field];
    if (spec.splitType === 'None' && filter !== undefined && filter !== '$') {
      throw new JobSpecError(
        `dataProcessing.${field}`,
        'whole objects (splitType None) are sent and answered as they are: filtering needs a splitType other than None',
      );
    }
  }
  if (spec.code !== undefined && !spec.model.startsWith('tfhub:')) {
    throw new JobSpecError('code', 'only goes with a tfhub: model, which is packaged with it');
  }
  compileFilter('dataProcessing.inputFilter', dataProcessing.inputFilter);
  const outputFilter = compileFilter('dataProcessing.outputFilter', dataProcessing.outputFilter);
  const decoding = decodingOf(spec);
  if (dataProcessing.joinSource === 'Input' && decoding === 'none') {
    throw new JobSpecError(
      'dataProcessing.joinSource',
      `records of ${spec.contentType} split by ${spec.splitType} are not read as JSON or CSV, so an output ` +
        'cannot be joined to them: use JSON Lines, JSON, CSV or Parquet, or TFRecord records holding tf.Example with an inputFilter',
    );
  }
  const { inputFilter } = dataProcessing;
  return {
    spec,
    records: {
      splitType: spec.splitType,
      decoding,
      ...(inputFilter !== undefined && { inputFilter }),
      csvHeader: spec.csvHeader,
      maxRecordBytes: maxRecordBytes(spec),
      shardBytes: spec.shardSizeInMB * MB,
      requestPerLine: spec.batchStrategy === 'SingleRecord',
    },
    shards: shardLayout(spec, decoding),
    transformPayloadBytes: spec.maxPayloadInMB === 0 ? Number.MAX_SAFE_INTEGER : spec.maxPayloadInMB * MB,
    ...(outputFilter && { outputFilter }),
  };
}

/**
 * Whether an input is read as Parquet: the job's contentType says so, or the input's name does (a
 * gzipped one too, to be refused: Parquet compresses its own pages).
 */
export function isParquetInput(spec: JobSpec, key: string): boolean {
  return spec.contentType === PARQUET_CONTENT_TYPE || withoutGzipSuffix(key).endsWith('.parquet');
}

/** Whether an input is decompressed as it is read: the job says Gzip, or the input is named `*.gz`. */
export function isGzipInput(spec: JobSpec, key: string): boolean {
  return spec.compressionType === 'Gzip' || key.endsWith(GZIP_SUFFIX);
}

/**
 * Refuses an input the job cannot read, naming it: Parquet the job cannot take, gzipped Parquet, or a
 * gzipped input of a whole-object job that does not say Gzip.
 */
export function checkInput(spec: JobSpec, key: string, name: string): void {
  if (isParquetInput(spec, key)) refuseParquet(spec, name);
  if (spec.splitType === 'None' && spec.compressionType !== 'Gzip' && key.endsWith(GZIP_SUFFIX)) {
    refuseGzipObject(name);
  }
}

/**
 * How one input's records are read: the job's settings, and for a Parquet input its rows, as JSON
 * objects (so a CSV job's Parquet input is read, filtered and joined as JSON).
 */
export function inputReading(job: CompiledJob, key: string, name: string): Omit<ShardOptions, 'workers'> {
  const reading = { ...job.records, input: name };
  return isParquetInput(job.spec, key) ? { ...reading, decoding: 'parquet' } : reading;
}

/** An input's bytes as its records are read: decompressed as they are read when it is gzipped. */
export function inputBytes(job: CompiledJob, key: string, name: string, stored: InputFile): InputFile {
  return isGzipInput(job.spec, key) ? gunzippedInput(stored, name) : stored;
}

/**
 * Refuses a job that cannot read a Parquet input (`input` names it when the job's contentType does
 * not): its rows are the records, sent as JSON Lines instances, so neither splitType None (whole
 * objects) nor a job that sends its records as they are can take one.
 */
export function refuseParquet(spec: JobSpec, input?: string): void {
  const parquet = input === undefined ? 'Parquet' : `Parquet (${input})`;
  if (spec.compressionType === 'Gzip' || input?.endsWith(GZIP_SUFFIX)) {
    throw new JobSpecError(
      'compressionType',
      `${parquet} cannot be read gzipped: Parquet compresses its own pages, so give the file as it is`,
    );
  }
  if (spec.splitType === 'None') {
    throw new JobSpecError(
      'splitType',
      `None does not go with ${parquet}, whose rows are the records: use Line`,
    );
  }
  if (input !== undefined && decodingOf(spec) === 'none') {
    throw new JobSpecError(
      'contentType',
      `${spec.contentType} split by ${spec.splitType} sends records as they are, but the rows of ${parquet} are sent as JSON instances`,
    );
  }
}

/**
 * Refuses a gzipped input (named `*.gz`) in a whole-object job that does not say Gzip: the transform
 * job would send its compressed bytes to the model as they are stored.
 */
function refuseGzipObject(input: string): never {
  throw new JobSpecError(
    'compressionType',
    `a gzipped input (${input}) of a splitType None job is sent as it is stored: say compressionType Gzip to have every object decompressed before it is sent, or decompress them first`,
  );
}

/** The sources merged over the defaults (later wins, nested objects member by member), compiled. */
export function resolveJob(...sources: readonly (JobSource | undefined)[]): CompiledJob {
  return compileJob(mergeJobSources(DEFAULT_JOB, ...sources));
}

/**
 * The rules of the fields one source holds, checked before it is merged with the others (a webhook
 * body, a nightly dataset), so a bad field is refused where it was given. Rules across fields, and a
 * missing model, wait for the merged spec: another source may settle them.
 */
export function checkJobSource(source: JobSource): void {
  const spec = parseSpec(mergeJobSources(DEFAULT_JOB, { model: 'unchecked' }, source));
  compileFilter('dataProcessing.inputFilter', spec.dataProcessing.inputFilter);
  compileFilter('dataProcessing.outputFilter', spec.dataProcessing.outputFilter);
}

function parseSpec(value: unknown): JobSpec {
  const parsed = jobSpecSchema.safeParse(value, WITH_GUESSES);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  throw new JobSpecError(issue?.path.join('.') || WHOLE_SPEC, issue?.message ?? 'invalid');
}

/**
 * zod's English messages, saying what a mistyped field or value most likely meant: zod hands each
 * issue the value it refused (`input`) and the schema refusing it (`inst`), whose fields are the known
 * names.
 */
const WITH_GUESSES = {
  error(issue: z.core.$ZodRawIssue) {
    if (issue.code === 'unrecognized_keys') {
      // Keys are only ever unrecognised by an object schema.
      const shape = (issue.inst?._zod.def as Partial<z.core.$ZodObjectDef> | undefined)?.shape;
      const known = Object.keys(shape ?? {});
      const described = issue.keys.map((key) => {
        const meant = closestName(key, known);
        return meant ? `${key} (did you mean ${meant}?)` : key;
      });
      return `unknown field ${described.join(', ')}`;
    }
    const message = IN_ENGLISH.error(issue);
    if (issue.code !== 'invalid_value' || typeof issue.input !== 'string') return message;
    const allowed = issue.values.filter((value): value is string => typeof value === 'string');
    const meant = closestName(issue.input, allowed);
    const text = typeof message === 'string' ? message : message?.message;
    return meant && text ? `${text}; did you mean ${JSON.stringify(meant)}?` : message;
  },
};

function compileFilter(field: string, expression: string | undefined): JsonPath | undefined {
  if (expression === undefined) return undefined;
  try {
    return compileJsonPath(expression);
  } catch (error) {
    if (!(error instanceof FilterSyntaxError)) throw error;
    throw new JobSpecError(field, error.message, { cause: error });
  }
}

/**
 * How ContentType, SplitType and the input filter say records are read: as JSON (validated,
 * filterable), as CSV rows, as tf.Example records, or passed through untouched.
 */
function decodingOf(spec: JobSpec): Decoding {
  const { contentType, splitType } = spec;
  const filter = spec.dataProcessing.inputFilter;
  const filtered = filter !== undefined && filter !== '$';
  let decoding: Decoding = 'none';
  // Parquet rows are the records whatever the split type (None is refused).
  if (contentType === PARQUET_CONTENT_TYPE) decoding = 'parquet';
  else if ((splitType === 'Line' || splitType === 'None') && JSON_TYPES.has(contentType)) decoding = 'json';
  else if (splitType === 'Line' && contentType === 'text/csv') decoding = 'csv';
  else if (splitType === 'TFRecord' && filtered) decoding = 'tf-example';
  if (filtered && decoding === 'none') {
    throw new JobSpecError(
      'dataProcessing.inputFilter',
      `records of ${contentType} split by ${splitType} cannot be filtered: use JSON Lines, JSON or CSV ` +
        'split by Line, or TFRecord records holding tf.Example',
    );
  }
  return decoding;
}

/**
 * The most bytes one record may have: what one request takes, and at most what a serverless endpoint
 * takes when the job may be scored on one, so that a record is quarantined the same way however the
 * job is scored.
 */
function maxRecordBytes(spec: JobSpec): number {
  // maxPayloadInMB 0 lets SageMaker stream a record of any size, but Shard holds a record whole: one
  // larger than the largest payload SageMaker otherwise takes is quarantined, not read into memory.
  const limit = spec.maxPayloadInMB === 0 ? MAX_RECORD_MB : spec.maxPayloadInMB;
  const capped = spec.endpointMaxRecords > 0 ? Math.min(limit, SERVERLESS_PAYLOAD_MB) : limit;
  return capped * MB;
}

function shardLayout(spec: JobSpec, decoding: Decoding): ShardLayout {
  if (decoding !== 'none') {
    return {
      format: 'instances',
      extension: 'jsonl',
      contentType: 'application/jsonlines',
      splitType: 'Line',
    };
  }
  const extension = { Line: 'txt', TFRecord: 'tfrecord', RecordIO: 'rec', None: 'bin' }[spec.splitType];
  return { format: 'original', extension, contentType: spec.contentType, splitType: spec.splitType };
}
