import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shardLinesVerbatim } from '../../../src/core/shard/verbatim.ts';
import { RecordingObjects } from '../../support/recording.ts';
import {
  ERRORS,
  type ErrorRowSeen,
  expectedShards,
  failingSource,
  type ShardSettings,
  shardInto,
  shardName,
  shardToMemory,
} from '../../support/shards.ts';

const lines = { splitType: 'Line', decoding: 'none' } as const;

function shard(
  input: string,
  settings: Partial<ShardSettings> = {},
  chunkSizes: readonly number[] = [1 << 16],
) {
  return shardToMemory(Buffer.from(input), { ...lines, ...settings }, chunkSizes, shardLinesVerbatim);
}

const text = (shards: Buffer[]): string => shards.map((s) => s.toString('utf8')).join('');

describe('shardLinesVerbatim', () => {
  it('passes LF and CRLF lines through byte for byte', async () => {
    const input = 'a\r\nb\n{"c": 1}\r\n\tnot json \n';

    const { index, shards, errors } = await shard(input);

    expect(text(shards)).toBe(input);
    expect(index.format).toBe('original');
    expect(index.records).toEqual({ in: 4, skipped: 0, errors: 0, sent: 4 });
    expect(errors).toEqual([]);
  });

  it.each([
    ['a\nb', 'a\nb\n'],
    ['a\r\nb', 'a\r\nb\n'],
    ['a\nb\n', 'a\nb\n'],
  ])('ends a last line that has no newline with LF (%j)', async (input, expected) => {
    const { index, shards } = await shard(input, {}, [1]);

    expect(text(shards)).toBe(expected);
    expect(index.shards).toEqual([{ shard: 0, firstRecord: 1, records: 2, bytes: expected.length }]);
  });

  it('leaves out empty lines and counts them as skipped, not as records', async () => {
    const { index, shards } = await shard('\na\n\r\n\nb\n\n', {}, [2]);

    expect(text(shards)).toBe('a\nb\n');
    expect(index.records).toEqual({ in: 2, skipped: 4, errors: 0, sent: 2 });
    expect(index.shards).toEqual([{ shard: 0, firstRecord: 1, records: 2, bytes: 4 }]);
  });

  it.each([[[64]], [[1]]])(
    'quarantines a line over the limit with its line number and first bytes (chunks of %j)',
    async (chunkSizes) => {
      // Prepare: line 3 (record 2) is twice the limit; an empty line stands before it.
      const long = 'x'.repeat(20);
      // Act
      const { index, shards, errors } = await shard(
        `ok\n\n${long}\nnext\nlast`,
        { maxRecordBytes: 10 },
        chunkSizes,
      );
      // Assess
      expect(text(shards)).toBe('ok\nnext\nlast\n');
      expect(errors).toEqual([
        {
          input: 'in',
          record: 2,
          line: 3,
          reason: 'record is 20 bytes, over the request limit of 10 bytes (maxPayloadInMB)',
          raw: long,
          size: 20,
        },
      ] satisfies ErrorRowSeen[]);
      expect(index.records).toEqual({ in: 4, skipped: 1, errors: 1, sent: 3 });
      expect(index.quarantined).toEqual([2]);
    },
  );

  it('keeps as raw bytes the first 4 KiB of a long line, and only its own, however the input is cut', async () => {
    // Prepare: a line longer than RAW_KEEP_BYTES, and a shorter one, both over a limit under 4 KiB.
    const long = Array.from({ length: 5000 }, (_, k) => String.fromCharCode(0x61 + (k % 26))).join('');
    const short = 'z'.repeat(150);
    for (const chunkSizes of [[1 << 16], [1000], [4097], [4095, 7], [3]]) {
      // Act
      const { shards, errors } = await shard(
        `a\n${long}\nb\n${short}\nc`,
        { maxRecordBytes: 100 },
        chunkSizes,
      );
      // Assess
      expect(text(shards)).toBe('a\nb\nc\n');
      expect(errors.map(({ raw, size }) => ({ raw, size }))).toEqual([
        { raw: long.slice(0, 4096), size: 5000 },
        { raw: short, size: 150 },
      ]);
    }
  });

  it('writes the same shards, counts and error rows however the input is cut into chunks', async () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'é', ' ', '\r', 'xxxxxx'), maxLength: 4 });
    const input = fc
      .tuple(fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n')), { maxLength: 12 }), fc.boolean())
      .map(([parts, finalNewline]) =>
        parts.map(([t, end], k) => (k < parts.length - 1 || finalNewline ? t + end : t)).join(''),
      );
    await fc.assert(
      fc.asyncProperty(
        input,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 30 }),
        async (text, chunkSizes, shardBytes) => {
          const settings = { maxRecordBytes: 12, shardBytes };
          const whole = await shard(text, settings);

          const cut = await shard(text, settings, chunkSizes);

          expect(cut.shards).toEqual(whole.shards);
          expect(cut.index).toEqual(whole.index);
          // The raw bytes of a quarantined line are checked on their own above.
          expect(cut.errors.map(({ raw, ...row }) => row)).toEqual(
            whole.errors.map(({ raw, ...row }) => row),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts shards exactly at line ends once shardBytes is reached, whatever the chunks', async () => {
    const input = ['aaaa', 'bb', 'cccccc', 'd', 'ee', 'f\r', 'gggggggg'];
    const expected = expectedShards(input, 6);
    const text = `${input.join('\n')}\n`;

    for (let size = 1; size <= text.length; size++) {
      const { index, shards } = await shard(text, { shardBytes: 6 }, [size]);

      expect(shards.map((s) => s.toString('utf8'))).toEqual(expected.texts);
      expect(index.shards).toEqual(expected.entries);
    }
    expect(expected.texts).toEqual(['aaaa\nbb\n', 'cccccc\n', 'd\nee\nf\r\n', 'gggggggg\n']);
  });

  it('aborts the shard being written and the errors when the source fails', async () => {
    const objects = new RecordingObjects();

    const sharding = shardInto(
      objects,
      failingSource(Buffer.from('a\nb\nc\n'), 4, 2),
      lines,
      shardLinesVerbatim,
    );

    await expect(sharding).rejects.toThrow('connection reset by peer');
    expect(objects.ended(shardName(0))).toEqual(['aborted']);
    expect(objects.objects.has(shardName(0))).toBe(false);
    expect(objects.ended(ERRORS)).toEqual(['aborted']);
  });
});
