/**
 * Typed errors. Step Functions Retry and Catch match on `name`, so every class sets a stable one and
 * nothing is ever swallowed into a return value.
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

/** A job spec field breaks a rule; raised before anything is created. */
export class JobSpecError extends PipelineError {
  override readonly name = 'JobSpecError';
  readonly field: string;
  constructor(field: string, reason: string, options?: ErrorOptions) {
    super(`${field}: ${reason}`, options);
    this.field = field;
  }
}

/** A JSONPath filter expression is outside the supported subset. */
export class FilterSyntaxError extends PipelineError {
  override readonly name = 'FilterSyntaxError';
  readonly expression: string;
  constructor(expression: string, reason: string) {
    super(`JSONPath ${JSON.stringify(expression)}: ${reason}`);
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
  constructor(record: number, size: number, limit: number) {
    super(`record ${record} is ${size} bytes, over the request limit of ${limit} bytes (maxPayloadInMB)`);
    this.size = size;
    this.limit = limit;
  }
}
