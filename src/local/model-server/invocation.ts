/**
 * How request bodies become TFS requests. `/v1/models/...` bodies are TFS JSON already. `/invocations`
 * bodies follow the SageMaker TensorFlow Serving container's rules (tensorflowServing.js):
 * - JSON (application/json, application/jsonlines, application/jsons), tried in this order:
 *   - a body with a `"instances":`, `"inputs":` or `"examples":` key anywhere is a TFS request as is;
 *   - a body where `}` or `]` is followed, across spaces or line ends only, by `{` or `[` is JSON Lines:
 *     each non-empty line is an instance; a body of one such line is the instances list itself;
 *   - any other body is one instance, unless it opens with `[[`, when it is the instances list.
 * - text/csv: each non-empty line is an instance; one column gives a scalar, several an array. Fields
 *   that are numbers stay numbers, others become strings.
 */
import { csvInstance, parseCsvFields } from '../../core/records/csv-instances.ts';
import { RequestError } from '../errors.ts';

/** `tfs`: a TFS REST body; `json` and `csv`: an /invocations body of that content type. */
export type BodyKind = 'tfs' | 'json' | 'csv';

const TFS_KEY = /"(instances|inputs|examples)"\s*:/;
const JSON_LINES = /[}\]]\s*[[{]/;
const LIST_OF_LISTS = /^\s*\[\s*\[/;
const LINE_END = /\r?\n/;

const decoder = new TextDecoder();

type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

/** Integers past 2^53 as BigInt, from their digits, for 64-bit integer inputs. */
const exactIntegers: Reviver = (_key, value, context) =>
  typeof value === 'number' && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? '')
    ? BigInt(context?.source ?? '')
    : value;

/** The TFS request a body stands for, parsed; with `exact`, large integers are kept exact as BigInt. */
export function readRequest(kind: BodyKind, body: Uint8Array, exact = false): unknown {
  const text = decoder.decode(body);
  const reviver = exact ? exactIntegers : undefined;
  if (kind === 'csv') return { instances: parseJson(`[${lines(text).map(csvLine).join(',')}]`, '', reviver) };
  if (kind === 'tfs' || TFS_KEY.test(text)) return parseJson(text, '', reviver);
  if (JSON_LINES.test(text)) return jsonLines(text, reviver);
  return { instances: parseJson(LIST_OF_LISTS.test(text) ? text : `[${text}]`, '', reviver) };
}

function jsonLines(text: string, reviver: Reviver | undefined): unknown {
  const found = lines(text);
  const [only] = found;
  if (found.length === 1 && only !== undefined) return { instances: parseJson(only.text, '', reviver) };
  try {
    return { instances: JSON.parse(`[${found.map((line) => line.text).join(',')}]`, reviver) as unknown };
  } catch {
    // Parsed again line by line only to name the line that breaks.
    return { instances: found.map((line) => parseJson(line.text, ` on line ${line.number}`, reviver)) };
  }
}

interface Line {
  readonly text: string;
  /** 1-based, counting empty lines. */
  readonly number: number;
}

function lines(text: string): Line[] {
  const found: Line[] = [];
  text.split(LINE_END).forEach((line, k) => {
    const trimmed = line.trim();
    if (trimmed !== '') found.push({ text: trimmed, number: k + 1 });
  });
  return found;
}

function csvLine(line: Line): string {
  return csvInstance(parseCsvFields(Buffer.from(line.text)));
}

function parseJson(text: string, where: string, reviver: Reviver | undefined): unknown {
  if (text.trim() === '') throw new RequestError('JSON Parse error: The document is empty');
  try {
    return JSON.parse(text, reviver) as unknown;
  } catch (error) {
    throw new RequestError(`JSON Parse error${where}: ${(error as Error).message}`);
  }
}
