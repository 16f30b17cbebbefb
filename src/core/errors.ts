import { recordTooLarge } from './records/limits.ts';

/**
 * The domain's typed errors, in one place. Step Functions Retry and Catch match on `name`, so every
 * class sets a stable one and nothing is ever swallowed into a return value. Every one takes the error
 * that caused it (`{ cause }`), as Error does; the other layers' errors extend PipelineError too.
 */
export class PipelineError extends Error {
  override readonly name: string = 'PipelineError';
}

/**
 * One record cannot be used (it does not parse, a filter does not match it, it is too large): it is
 * quarantined in `_errors.jsonl` with this message as the reason, and its neighbours go on.
 */
export class InvalidRecordError extends PipelineError {
  override readonly name: string = 'InvalidRecordError';
}

/** The framing of an input is broken beyond the point where records can be found again. */
export class FramingError extends PipelineError {
  override readonly name = 'FramingError';
  readonly input: string;
  readonly offset: number;
  constructor(input: string, offset: number, reason: string, options?: ErrorOptions) {
    super(`${input}: ${reason} at byte ${offset}`, options);
    this.input = input;
    this.offset = offset;
  }
}

/**
 * A Parquet input cannot be read: it is not Parquet, or a row group's pages cannot be decoded. The
 * message names the input and, when it is one, the row group (counted from 0, as Parquet tools do).
 */
export class ParquetReadError extends PipelineError {
  override readonly name = 'ParquetReadError';
  readonly input: string;
  readonly rowGroup: number | undefined;
  constructor(input: string, rowGroup: number | undefined, reason: string, options?: ErrorOptions) {
    super(`${input}: ${rowGroup === undefined ? '' : `row group ${rowGroup} `}${reason}`, options);
    this.input = input;
    this.rowGroup = rowGroup;
  }
}

/**
 * A gzipped input cannot be decompressed: it is not gzip, or it is damaged or cut short. The message
 * names the input; the records read before the damage are not kept.
 */
export class DecompressionError extends PipelineError {
  override readonly name = 'DecompressionError';
  readonly input: string;
  constructor(input: string, reason: string, options?: ErrorOptions) {
    super(`${input}: cannot be decompressed as gzip: ${reason}`, options);
    this.input = input;
  }
}

/** The field a JobSpecError names when the spec as a whole breaks a rule (a field it does not know). */
export const WHOLE_SPEC = '(spec)';

/** A job spec field breaks a rule; raised before anything is created. */
export class JobSpecError extends PipelineError {
  override readonly name = 'JobSpecError';
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string, options?: ErrorOptions) {
    super(`${field}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/**
 * `pipeline plan --calibrate` cannot measure the model: it does not load, it answers none of the
 * sample's requests, or the inputs hold no record to score. The message names the model and why.
 */
export class CalibrationError extends PipelineError {
  override readonly name = 'CalibrationError';
}

/** A setting of the deployment or of the local service (not a job spec) is malformed. */
export class ConfigurationError extends PipelineError {
  override readonly name = 'ConfigurationError';
}

/** A JSONPath filter expression is outside the supported subset. */
export class FilterSyntaxError extends PipelineError {
  override readonly name = 'FilterSyntaxError';
  readonly expression: string;
  constructor(expression: string, reason: string, options?: ErrorOptions) {
    super(`JSONPath ${JSON.stringify(expression)}: ${reason}`, options);
    this.expression = expression;
  }
}

/** A model response does not line up with the records that were sent. */
export class PredictionCountError extends PipelineError {
  override readonly name = 'PredictionCountError';
}

/** A model response could not be read as the expected TFS JSON document. */
export class ResponseFormatError extends PipelineError {
  override readonly name = 'ResponseFormatError';
}

/** Records in, records out and records in error do not add up. */
export class CountMismatchError extends PipelineError {
  override readonly name = 'CountMismatchError';
}

/** A single record is larger than what may be sent in one request. */
export class RecordTooLargeError extends PipelineError {
  override readonly name = 'RecordTooLargeError';
  readonly size: number;
  readonly limit: number;
  constructor(record: number, size: number, limit: number, options?: ErrorOptions) {
    super(`record ${record} cannot be sent: ${recordTooLarge(size, limit)}`, options);
    this.size = size;
    this.limit = limit;
  }
}

/** The filter does not match a record: the record is quarantined with this reason. */
export class FilterMismatchError extends InvalidRecordError {
  override readonly name = 'FilterMismatchError';
}

/** A record's bytes are not a tf.Example that can be written as JSON; the record is quarantined. */
export class ExampleDecodeError extends InvalidRecordError {
  override readonly name = 'ExampleDecodeError';
}

/**
 * A request the endpoint did not answer with success. `retryable` says whether sending the same bytes
 * again can succeed (throttling, a timeout, a 5xx from the model); a 4xx from the model cannot.
 */
export class EndpointInvocationError extends PipelineError {
  override readonly name = 'EndpointInvocationError';
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.retryable = retryable;
  }
}

export class ObjectNotFoundError extends PipelineError {
  override readonly name = 'ObjectNotFoundError';
  readonly key: string;
  constructor(key: string, options?: ErrorOptions) {
    super(`no object ${key}`, options);
    this.key = key;
  }
}

/**
 * The store failed in a way that passes: throttled, a server error, a connection cut, still so after
 * the client's own retries. The state machine retries the step on this name.
 */
export class TransientStorageError extends PipelineError {
  override readonly name = 'TransientStorageError';
}

/** A lock file names a process that is still running: what it guards is in use by that process. */
export class LockHeldError extends PipelineError {
  override readonly name = 'LockHeldError';
  readonly path: string;
  /** The process holding the lock. */
  readonly holder: number;
  constructor(path: string, holder: number, options?: ErrorOptions) {
    super(`${path} is held by process ${holder}`, options);
    this.path = path;
    this.holder = holder;
  }
}

/** The disk (or the quota) is full: nothing more can be written until space is freed. */
export class StorageFullError extends PipelineError {
  override readonly name = 'StorageFullError';
}

/** A key that could reach outside the store (`..`, an absolute path) or is empty. */
export class InvalidKeyError extends PipelineError {
  override readonly name = 'InvalidKeyError';
}

/** A job names no input. */
export class NoInputError extends PipelineError {
  override readonly name = 'NoInputError';
}

/** An input the job names is not in the bucket. */
export class InputNotFoundError extends PipelineError {
  override readonly name = 'InputNotFoundError';
}

/** A job names more inputs than one execution carries. */
export class TooManyInputsError extends PipelineError {
  override readonly name = 'TooManyInputsError';
}

/** The plan would be over what a state of the state machine may carry. */
export class PlanTooLargeError extends PipelineError {
  override readonly name = 'PlanTooLargeError';
}
