import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DecompressionError } from '../errors.ts';
import type { InputFile } from '../io.ts';

/** The suffix that marks a gzipped input, whatever the job's compressionType says. */
export const GZIP_SUFFIX = '.gz';

/** An input's name without its `.gz`, for what the name tells of its format (`data.csv.gz` is CSV). */
export function withoutGzipSuffix(key: string): string {
  return key.endsWith(GZIP_SUFFIX) ? key.slice(0, -GZIP_SUFFIX.length) : key;
}

/**
 * A gzipped input as its decompressed bytes, decompressed as it is read (concatenated gzip members
 * too, as gzip reads them). Only whole reads: a gzip stream cannot be entered at a byte range. `size`
 * stays the stored, compressed size. A stream that is not gzip, damaged or cut short fails with
 * DecompressionError naming `input`.
 */
export function gunzippedInput(file: InputFile, input: string): InputFile {
  return {
    size: file.size,
    read: (range) => {
      if (range) throw new RangeError(`${input}: a gzipped input is only read from its start`);
      return gunzipped(file.read(), input);
    },
  };
}

/** Decompressed bytes handed on at a time: the readers' cost is per chunk, zlib's default is 16 KB. */
const OUTPUT_CHUNK_BYTES = 1 << 20;

/** A gzip stream's decompressed bytes, with DecompressionError naming `input` (see gunzippedInput). */
export async function* gunzipped(source: AsyncIterable<Buffer>, input: string): AsyncGenerator<Buffer> {
  // A source chunk may be overwritten once the next is asked for, while zlib may still hold it: copy it.
  const copies = (async function* () {
    for await (const chunk of source) yield Buffer.from(chunk);
  })();
  // Errors reach the reader through the iteration below, so the pipeline's own callback has nothing to do.
  const decompressed = pipeline(
    Readable.from(copies, { objectMode: false }),
    createGunzip({ chunkSize: OUTPUT_CHUNK_BYTES }),
    () => undefined,
  );
  try {
    for await (const chunk of decompressed) yield chunk as Buffer;
  } catch (error) {
    if (isZlibError(error)) throw new DecompressionError(input, (error as Error).message, { cause: error });
    throw error;
  }
}

function isZlibError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
