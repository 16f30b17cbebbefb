/**
 * CSV records as the JSON text the TensorFlow Serving model is sent: fields unquoted, numbers kept as
 * written, one TFS instance per record.
 */

const QUOTE = 0x22;

/**
 * The fields of one record, unquoted. Lenient on input the reader would have quarantined: a quote
 * inside an unquoted field is kept as text, and text after a closing quote is appended to the field.
 */
export function parseCsvFields(data: Buffer): string[] {
  return splitCsvFields(data.toString('utf8'));
}

function splitCsvFields(text: string): string[] {
  if (!text.includes('"')) return text.split(',');
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    let value = '';
    if (text.charCodeAt(i) === QUOTE) {
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) {
          value += text.slice(j);
          i = n;
          break;
        }
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    }
    const comma = text.indexOf(',', i);
    const stop = comma === -1 ? n : comma;
    fields.push(i < stop ? value + text.slice(i, stop) : value);
    if (comma === -1) return fields;
    i = comma + 1;
  }
}

// A number as JSON writes it, loosened to also take a leading '+', and '.5' or '5.'.
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+)?$/;
const EDGE_SPACES = /^[ \t]+|[ \t]+$/g;

/**
 * The JSON number text for a CSV field, or undefined when the field is not a number. The digits are
 * kept as written (never converted to a double and printed back), so `1e400` and
 * `0.1000000000000000055511` reach the model unchanged. Spaces and tabs around the number are ignored;
 * a leading '+' is dropped, '.5' becomes '0.5' and '5.' becomes '5'. Leading zeros (`007`) make a
 * string, as they are no JSON number.
 */
export function csvNumber(field: string): string | undefined {
  const m = NUMBER.exec(field.replace(EDGE_SPACES, ''));
  if (m === null) return undefined;
  const sign = m[1] === '-' ? '-' : '';
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  const exp = m[4] ?? '';
  if (int === '' && frac === '') return undefined;
  if (int.length > 1 && int.charCodeAt(0) === 0x30) return undefined;
  return `${sign}${int === '' ? '0' : int}${frac === '' ? '' : `.${frac}`}${exp}`;
}

/** One CSV field as JSON: a number's text, null for an empty field, otherwise a JSON string. */
export function csvFieldToJson(field: string): string {
  if (field.length === 0) return 'null';
  return csvNumber(field) ?? JSON.stringify(field);
}

/** A JSON array text of the record's fields (see csvFieldToJson). */
export function csvRecordToJsonArray(data: Buffer): string {
  return `[${parseCsvFields(data).map(csvFieldToJson).join(',')}]`;
}

/**
 * One TFS instance from a record's fields, as the SageMaker TFS container makes it from CSV: a
 * one-column line is a scalar, several columns an array.
 */
export function csvInstance(fields: readonly string[]): string {
  const [only] = fields;
  if (fields.length === 1 && only !== undefined) return csvFieldToJson(only);
  return `[${fields.map(csvFieldToJson).join(',')}]`;
}
