import { abandon, type ByteSink } from '../io.ts';
import { recordTooLarge } from '../records/limits.ts';
import { countLines } from '../records/newlines.ts';
import { RAW_KEEP_BYTES } from '../records/types.ts';
import { errorRow } from './error-rows.ts';
import type { ShardEntry, ShardIndex, ShardOptions, ShardTargets } from './sharder.ts';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Lines that pass through untouched (no decoding, no filter) are not copied record by record: runs of
 * good lines are written straight from the input chunk, and only line ends are looked at. Empty lines
 * are left out (they are not records) and a line over the payload limit is quarantined.
 */
export async function shardLinesVerbatim(
  source: AsyncIterable<Buffer>,
  options: ShardOptions,
  targets: ShardTargets,
): Promise<ShardIndex> {
  const limit = options.maxRecordBytes;
  const shards: ShardEntry[] = [];
  const quarantined: number[] = [];
  const counts = { in: 0, skipped: 0, errors: 0, sent: 0 };
  let shard = { records: 0, bytes: 0, firstRecord: 0 };
  let sink: ByteSink | undefined;
  let shardWritten = 0;
  let line = 0;
  // What one chunk produced, applied in order once the chunk is scanned: bytes for the open shard,
  // or the end of the open shard.
  const steps: (Buffer | 'close')[] = [];
  let errors = '';
  // A line that started in an earlier chunk: its first bytes and its full size. All of it is kept while
  // it may still be sent, and at least its first RAW_KEEP_BYTES for the error row if it may not.
  const carryKeep = Math.max(limit, RAW_KEEP_BYTES);
  let carry: Buffer[] = [];
  let carrySize = 0;

  const good = (length: number): void => {
    if (shard.records === 0) shard.firstRecord = counts.in + 1;
    counts.in++;
    counts.sent++;
    shard.records++;
    shard.bytes += length + 1;
  };
  const closeIfFull = (): boolean => {
    if (shard.bytes < options.shardBytes) return false;
    shards.push({ shard: shards.length, ...shard });
    shard = { records: 0, bytes: 0, firstRecord: 0 };
    steps.push('close');
    return true;
  };
  /** A line over the limit, of which `bytes` holds all or at least the first RAW_KEEP_BYTES. */
  const bad = (bytes: Buffer, size: number): void => {
    counts.in++;
    counts.errors++;
    quarantined.push(counts.in);
    const reason = recordTooLarge(size, limit);
    errors += `${JSON.stringify(errorRow(options.input, counts.in, line, 'line', reason, bytes, size))}\n`;
  };
  /** The next piece of the carried line, kept (copied: the chunk may be reused) up to carryKeep bytes. */
  const hold = (piece: Buffer): void => {
    if (carrySize < carryKeep) carry.push(Buffer.from(piece.subarray(0, carryKeep - carrySize)));
    carrySize += piece.length;
  };
  /** One whole line, not in the current chunk's runs: the carried line, or the last one without LF. */
  const single = (data: Buffer, size: number): void => {
    line++;
    const length = size > 0 && data[size - 1] === CR && data.length === size ? size - 1 : size;
    if (length === 0) counts.skipped++;
    else if (size > limit) bad(data, size);
    else {
      good(size);
      steps.push(Buffer.concat([data, Buffer.from([LF])]));
      closeIfFull();
    }
  };

  // Applies the steps taken so far; they are taken at the call, so the next chunk can be scanned
  // while these bytes are being written.
  const addLines = (lines: number, bytes: number): void => {
    if (shard.records === 0) shard.firstRecord = counts.in + 1;
    counts.in += lines;
    counts.sent += lines;
    shard.records += lines;
    shard.bytes += bytes;
    line += lines;
  };
  /** Whole good lines in chunk[from, end), `lines` of them. */
  const takeLines = (chunk: Buffer, from: number, end: number, lines: number): void => {
    while (from < end) {
      const room = options.shardBytes - shard.bytes;
      if (end - from < room) {
        addLines(lines, end - from);
        steps.push(chunk.subarray(from, end));
        return;
      }
      const cut = chunk.indexOf(LF, from + Math.max(room, 1) - 1) + 1;
      const taken = countLines(chunk, from, cut).lines;
      addLines(taken, cut - from);
      steps.push(chunk.subarray(from, cut));
      closeIfFull();
      lines -= taken;
      from = cut;
    }
  };
  /** Whole lines in chunk[from, end), looked at one by one: some are empty or may be too long. */
  const scanLines = (chunk: Buffer, from: number, end: number): void => {
    let run = from;
    for (
      let newline = chunk.indexOf(LF, from);
      newline !== -1 && newline < end;
      newline = chunk.indexOf(LF, from)
    ) {
      line++;
      const size = newline - from;
      if (size === 0 || (size === 1 && chunk[from] === CR) || size > limit) {
        if (run < from) steps.push(chunk.subarray(run, from));
        if (size > limit) bad(chunk.subarray(from, newline), size);
        else counts.skipped++;
        run = newline + 1;
      } else {
        good(size);
        if (shard.bytes >= options.shardBytes) {
          steps.push(chunk.subarray(run, newline + 1));
          run = newline + 1;
          closeIfFull();
        }
      }
      from = newline + 1;
    }
    if (run < end) steps.push(chunk.subarray(run, end));
  };

  const apply = async (): Promise<void> => {
    const taken = steps.splice(0);
    const errorRows = errors;
    errors = '';
    for (const step of taken) {
      if (step === 'close') {
        await sink?.close();
        sink = undefined;
        shardWritten++;
      } else {
        sink ??= await targets.openShard(shardWritten);
        await sink.write(step);
      }
    }
    if (errorRows.length > 0) await targets.errors.write(Buffer.from(errorRows));
  };

  // Writes of the previous chunk run while the next one is read; they end before the one after is
  // asked for, so a source that reuses two buffers is never overwritten under a pending write.
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of source) {
      let position = 0;
      if (carrySize > 0) {
        const newline = chunk.indexOf(LF);
        if (newline === -1) {
          hold(chunk);
          await writing;
          continue;
        }
        hold(chunk.subarray(0, newline));
        const size = carrySize;
        const data = Buffer.concat(carry);
        carry = [];
        carrySize = 0;
        single(data, size);
        position = newline + 1;
      }
      const lastNewline = chunk.lastIndexOf(LF);
      if (lastNewline >= position) {
        const end = lastNewline + 1;
        // No line here can be over the limit when the whole range is not, and the kernel says whether
        // any is empty: then the range is written as it stands, cut only where a shard fills up.
        const count = end - position <= limit ? countLines(chunk, position, end) : undefined;
        if (count && !count.empty) takeLines(chunk, position, end, count.lines);
        else scanLines(chunk, position, end);
        position = end;
      }
      if (position < chunk.length) hold(chunk.subarray(position));
      await writing;
      writing = apply();
    }
    await writing;
    if (carrySize > 0) single(Buffer.concat(carry), carrySize);
    if (shard.records > 0) {
      shards.push({ shard: shards.length, ...shard });
      steps.push('close');
    }
    await apply();
    await targets.errors.close();
  } catch (error) {
    await abandon([sink, targets.errors], error, writing);
  }
  return { input: options.input, format: 'original', shards, records: counts, quarantined };
}
