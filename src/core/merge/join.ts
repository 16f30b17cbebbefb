import { trimSpan } from '../json/scan.ts';
import { csvRecordToJsonArray } from '../records/csv-instances.ts';
import { toCsvRow } from './csv-row.ts';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const SAGEMAKER_OUTPUT = Buffer.from('"SageMakerOutput":');

/**
 * JSON input joined with its output as SageMaker does it: an object gains a `SageMakerOutput` member;
 * any other value becomes `{"SageMakerInput": value, "SageMakerOutput": output}`.
 */
export function joinJson(record: Buffer, output: Buffer): Buffer {
  const [start, end] = trimSpan(record, 0, record.length);
  if (record[start] !== OPEN_BRACE) {
    return Buffer.concat([
      Buffer.from('{"SageMakerInput":'),
      record.subarray(start, end),
      Buffer.from(',"SageMakerOutput":'),
      output,
      Buffer.from('}'),
    ]);
  }
  const [, close] = trimSpan(record, start + 1, end - 1);
  const empty = close === start + 1;
  return Buffer.concat([
    record.subarray(start, close),
    Buffer.from(empty ? '' : ','),
    SAGEMAKER_OUTPUT,
    output,
    Buffer.from([CLOSE_BRACE]),
  ]);
}

/** CSV input joined with its output: the row's fields followed by the output's values, as a JSON array. */
export function joinCsv(record: Buffer, output: Buffer): Buffer {
  const fields = csvRecordToJsonArray(record);
  const values = flatten(JSON.parse(output.toString('utf8')));
  const tail = values.map((value) => JSON.stringify(value)).join(',');
  return Buffer.from(fields === '[]' ? `[${tail}]` : `${fields.slice(0, -1)}${tail ? `,${tail}` : ''}]`);
}

/** A joined CSV row (a JSON array, or one value once filtered) written back as one CSV line. */
export function csvLine(json: Buffer): Buffer {
  const value: unknown = JSON.parse(json.toString('utf8'));
  return Buffer.from(toCsvRow(Array.isArray(value) ? value : [value]));
}

function flatten(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(flatten);
  return [value];
}
