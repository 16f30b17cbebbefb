import { forEachScalar, trimSpan } from '../json/scan.ts';
import { csvNumber, parseCsvFields } from '../records/csv-instances.ts';
import { toCsvRow } from './csv-row.ts';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const LETTER_N = 0x6e;
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
  const [firstMember, close] = trimSpan(record, start + 1, end - 1);
  return Buffer.concat([
    record.subarray(start, close),
    Buffer.from(firstMember === close ? '' : ','),
    SAGEMAKER_OUTPUT,
    output,
    Buffer.from([CLOSE_BRACE]),
  ]);
}

/**
 * CSV input joined with its output: a JSON list of the row's fields followed by the output's values
 * (its lists and objects flattened), each as written, so that `csvLine` gives the row back as it was.
 */
export function joinCsv(record: Buffer, output: Buffer): Buffer {
  const values = parseCsvFields(record).map(fieldAsWritten);
  forEachScalar(output, 0, output.length, (start, end) => {
    values.push(output.toString('utf8', start, end));
  });
  return Buffer.from(`[${values.join(',')}]`);
}

/**
 * A CSV field as JSON that `csvLine` writes back unchanged: a number when JSON writes the number the
 * same way, null when empty, otherwise a string.
 */
function fieldAsWritten(field: string): string {
  if (field.length === 0) return 'null';
  return csvNumber(field) === field ? field : JSON.stringify(field);
}

/**
 * A joined CSV row (a JSON list, or what an output filter took from it) as one CSV line: its values in
 * order, lists and objects flattened, numbers, true and false as written, null as an empty field.
 */
export function csvLine(json: Buffer): Buffer {
  const values: (string | null)[] = [];
  forEachScalar(json, 0, json.length, (start, end) => {
    const first = json[start];
    if (first === QUOTE) values.push(JSON.parse(json.toString('utf8', start, end)) as string);
    else values.push(first === LETTER_N ? null : json.toString('latin1', start, end));
  });
  return Buffer.from(toCsvRow(values));
}
