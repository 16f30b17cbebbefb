import { JobSpecError } from '../errors.ts';
import { compileJsonPath } from '../json/path.ts';
import type { SplitType } from '../shard/block.ts';
import type { Decoding } from '../shard/instances.ts';

export const SPLIT_TYPES = ['Line', 'RecordIO', 'TFRecord', 'None'] as const;

export interface RecordSpec {
  readonly contentType: string;
  readonly splitType: SplitType;
  readonly inputFilter?: string;
}

const JSON_TYPES = new Set(['application/json', 'application/jsonlines', 'application/jsons']);

/**
 * How a job spec's ContentType, SplitType and input filter say records are read: as JSON (validated,
 * filterable), as CSV rows, as tf.Example records, or passed through untouched.
 */
export function decodingFor(spec: RecordSpec): Decoding {
  if (spec.inputFilter !== undefined) compileJsonPathOrFail(spec.inputFilter);
  const filtered = spec.inputFilter !== undefined && spec.inputFilter !== '$';
  let decoding: Decoding = 'none';
  if ((spec.splitType === 'Line' || spec.splitType === 'None') && JSON_TYPES.has(spec.contentType))
    decoding = 'json';
  else if (spec.splitType === 'Line' && spec.contentType === 'text/csv') decoding = 'csv';
  else if (spec.splitType === 'TFRecord' && filtered) decoding = 'tf-example';
  if (filtered && decoding === 'none') {
    throw new JobSpecError(
      'dataProcessing.inputFilter',
      `records of ${spec.contentType} split by ${spec.splitType} cannot be filtered: use JSON Lines, JSON or CSV ` +
        'split by Line, or TFRecord records holding tf.Example',
    );
  }
  return decoding;
}

function compileJsonPathOrFail(expression: string): void {
  try {
    compileJsonPath(expression);
  } catch (error) {
    throw new JobSpecError('dataProcessing.inputFilter', (error as Error).message, { cause: error });
  }
}
