import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { InputFile } from '../../../src/core/io.ts';
import { gunzippedInput, withoutGzipSuffix } from '../../../src/core/records/gzip.ts';

/**
 * An input read in chunks of `size` bytes that, like the file and S3 readers, reuses one buffer:
 * a chunk is overwritten once the next is asked for.
 */
function reusingInput(bytes: Buffer, size: number): InputFile {
  return {
    size: bytes.length,
    read: async function* () {
      const buffer = Buffer.alloc(size);
      for (let at = 0; at < bytes.length; at += size) {
        const length = bytes.copy(buffer, 0, at, at + size);
        yield buffer.subarray(0, length);
      }
    },
  };
}

async function readAll(file: InputFile): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of file.read()) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

describe('gunzippedInput', () => {
  it('decompresses as it reads, over reused chunks and several gzip members', async () => {
    const lines = Array.from({ length: 5000 }, (_, k) => `{"id":${k},"v":${(k * 7919) % 1000}}\n`).join('');
    const packed = Buffer.concat([gzipSync(lines.slice(0, 20_000)), gzipSync(lines.slice(20_000))]);
    expect(await readAll(gunzippedInput(reusingInput(packed, 1000), 'data.jsonl.gz'))).toBe(lines);
  });

  it.each([
    ['not gzip', Buffer.from('{"plain":"json"}\n'), 'incorrect header check'],
    ['cut short', gzipSync('{"a":1}\n'.repeat(100)).subarray(0, 30), 'unexpected end of file'],
  ])('fails a stream that is %s with DecompressionError naming the input', async (_, bytes, reason) => {
    await expect(readAll(gunzippedInput(reusingInput(bytes, 16), 'day/data.jsonl.gz'))).rejects.toMatchObject(
      {
        name: 'DecompressionError',
        input: 'day/data.jsonl.gz',
        message: `day/data.jsonl.gz: cannot be decompressed as gzip: ${reason}`,
      },
    );
  });

  it('names formats through the .gz', () => {
    expect(withoutGzipSuffix('a/rows.csv.gz')).toBe('a/rows.csv');
    expect(withoutGzipSuffix('a/rows.csv')).toBe('a/rows.csv');
  });
});
