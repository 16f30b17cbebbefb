import type { ShardIndex } from '../../src/core/shard/sharder.ts';
import type { MemoryObjects } from './memory.ts';

/**
 * A stand-in for the transform job with a model that answers each instance with itself. It reads the
 * shards as the TFS container does (a JSON Lines request of several lines is a list of instances; a line
 * holding {"instances": ...} is a whole request), groups lines into requests of `batch` lines, and writes
 * one `{"predictions": [...]}` line per request into `<shard>.out`. Shards in their original framing get
 * one output line per record (split by `splitOriginal`, TFRecord by default): its bytes as a base64
 * JSON string.
 */
export function echoTransform(
  objects: MemoryObjects,
  index: ShardIndex,
  shardName: (shard: number) => string,
  options: { batch: number; pretty?: boolean; splitOriginal?: (shard: Buffer) => Buffer[] },
): void {
  const { batch, pretty = false, splitOriginal = splitTfRecords } = options;
  for (const { shard } of index.shards) {
    const data = objects.get(shardName(shard));
    const responses: string[] = [];
    if (index.format === 'original') {
      for (const record of splitOriginal(data)) responses.push(JSON.stringify(record.toString('base64')));
    } else {
      const lines = data
        .toString('utf8')
        .split('\n')
        .filter((line) => line.length > 0);
      for (let start = 0; start < lines.length; start += batch) {
        const requestLines = lines.slice(start, start + batch);
        const instances = requestLines.flatMap((line) => {
          const value = JSON.parse(line) as unknown;
          return isRequest(value) ? value.instances : [value];
        });
        const body = JSON.stringify({ predictions: instances }, null, pretty ? 4 : undefined);
        responses.push(body.replace(/\n/g, ''));
      }
    }
    objects.objects.set(
      `${shardName(shard)}.out`,
      Buffer.from(responses.map((line) => `${line}\n`).join('')),
    );
  }
}

function isRequest(value: unknown): value is { instances: unknown[] } {
  return typeof value === 'object' && value !== null && 'instances' in value;
}

/** Splits a shard in TFRecord framing (length, its CRC, data, its CRC) back into payloads. */
function splitTfRecords(data: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const length = Number(data.readBigUInt64LE(at));
    records.push(data.subarray(at + 12, at + 12 + length));
    at += 16 + length;
  }
  return records;
}
