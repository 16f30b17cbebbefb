import { InvalidRecordError } from '../errors.ts';
import { compileJsonPath, type Selected } from '../json/path.ts';
import { arrayElements, compactJson } from '../json/scan.ts';

/**
 * How records are turned into what the model receives. `parquet`: the rows of a Parquet file, JSON
 * objects that the reader wrote (so valid), whatever splitType says.
 */
export type Decoding = 'json' | 'csv' | 'tf-example' | 'parquet' | 'none';

/**
 * Turns one record into the TFS instance the model receives, as JSON bytes (or, for `none`, the record
 * untouched). Writes its answer into `into`; throws InvalidRecordError for a record that cannot be used.
 */
export type InstanceEncoder = (data: Buffer, into: Selected) => void;

/** Encoders made, by what makes them: a group of thousands of small inputs needs one, not one each. */
const made = new Map<string, Promise<InstanceEncoder>>();
const MADE_AT_MOST = 32;

/**
 * Decoders are loaded only for the decoding asked: each worker thread that encodes records loads its
 * own copy of what it imports, and the others (protobufjs, the WebAssembly validator) cost memory.
 */
export function createInstanceEncoder(
  decoding: Decoding,
  inputFilter: string | undefined,
  wholeObjects = false,
): Promise<InstanceEncoder> {
  const key = JSON.stringify([decoding, inputFilter ?? null, wholeObjects]);
  let encoder = made.get(key);
  if (encoder === undefined) {
    if (made.size >= MADE_AT_MOST) made.clear();
    encoder = makeInstanceEncoder(decoding, inputFilter, wholeObjects);
    // A filter that does not compile is refused each time it is asked for, not remembered.
    encoder.catch(() => made.delete(key));
    made.set(key, encoder);
  }
  return encoder;
}

async function makeInstanceEncoder(
  decoding: Decoding,
  inputFilter: string | undefined,
  wholeObjects: boolean,
): Promise<InstanceEncoder> {
  const filter = compileJsonPath(inputFilter ?? '$');
  switch (decoding) {
    case 'none':
      return (data, into) => {
        into.bytes = data;
        into.start = 0;
        into.end = data.length;
      };
    case 'json': {
      const { validateJson } = await import('../json/validate.ts');
      return (data, into) => {
        const error = validateJson(data, 0, data.length);
        if (error !== -1) {
          throw new InvalidRecordError(`invalid JSON at ${wholeObjects ? 'byte' : 'column'} ${error + 1}`);
        }
        filter.select(data, 0, data.length, into);
        // A whole object may span lines; an instance is one line of the shard.
        if (wholeObjects) compact(into);
      };
    }
    case 'parquet':
      return (data, into) => filter.select(data, 0, data.length, into);
    case 'csv': {
      const { csvRecordToJsonArray } = await import('../records/csv-instances.ts');
      return (data, into) => {
        const array = Buffer.from(csvRecordToJsonArray(data));
        filter.select(array, 0, array.length, into);
        unwrapSingleColumn(into);
      };
    }
    case 'tf-example': {
      const { exampleToJson } = await import('../records/example.ts');
      return (data, into) => {
        const example = Buffer.from(exampleToJson(data));
        filter.select(example, 0, example.length, into);
      };
    }
  }
}

function compact(into: Selected): void {
  into.bytes = compactJson(into.bytes.subarray(into.start, into.end));
  into.start = 0;
  into.end = into.bytes.length;
}

/** The TFS container sends a one-column CSV line as a scalar, several columns as an array. */
function unwrapSingleColumn(into: Selected): void {
  if (into.bytes[into.start] !== 0x5b) return;
  const { starts, ends } = arrayElements(into.bytes, into.start, into.end);
  if (starts.length !== 1) return;
  into.start = starts[0] as number;
  into.end = ends[0] as number;
}
