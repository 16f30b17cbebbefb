/**
 * `npm run bench`: the record engine's throughput and memory on a generated JSON Lines file (1 GB by
 * default; BENCH_MB sets its size), and on Parquet files of 20 double columns, each figure against a
 * baseline measured in the same run.
 * Prints one JSON object per line: {"name", "value", "unit", "baseline", "ratio"}.
 *
 * Each measurement of ours runs in a child process of its own, so its peak RSS is its own, and trials
 * alternate with the baseline's; the ratio reported is the median of the trials' ratios, which keeps
 * the disk's moods out of it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { Compression, Table as ParquetTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { openFileSink } from '../src/adapters/file-sink.ts';
import { fileInput, readFileChunks } from '../src/adapters/file-source.ts';
import type { InputFile } from '../src/core/io.ts';
import { mergeInput } from '../src/core/merge/merger.ts';
import { type ShardIndex, type ShardOptions, shardFile, shardInput } from '../src/core/shard/sharder.ts';
import { shardThreads } from '../src/core/shard/threads.ts';

const dataDir = process.env.BENCH_DIR ?? fileURLToPath(new URL('./.data/', import.meta.url));
const inputMb = Number(process.env.BENCH_MB ?? 1024);
const trials = Number(process.env.BENCH_TRIALS ?? 3);
const input = join(dataDir, `input-${inputMb}mb.jsonl`);
/** The Parquet benchmark's filter: 2 of the 20 columns. */
const COLUMNS_FILTER = "$['f3','f7']";
const workers = shardThreads(Number(process.env.BENCH_WORKERS ?? Math.min(4, availableParallelism())));

interface ChildResult {
  seconds: number;
  bytes: number;
  rssMb: number;
  records: number;
}

const child = process.argv[2];
if (child) {
  const result = await runChild(child, process.argv[3] ?? input);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await main();
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  await generateInput(input, inputMb);
  const size = statSync(input).size;
  const out = join(dataDir, 'out');

  // Byte-level sharding against split -C, which also cuts at line ends into files of a target size.
  const bytes = await alternate(
    () => {
      const target = join(reset(out), 'split-');
      return timed(() => run('split', ['-C', '64M', input, target]), size);
    },
    () => ours('shard-lines'),
  );
  report('shard lines verbatim (no filter)', bytes, 'split -C');

  // Validation and an input filter against JSON.parse + JSON.stringify per line, the obvious way.
  const json = await alternate(
    () => ours('parse-stringify'),
    () => ours('shard-json'),
  );
  report('shard JSON Lines, validated, inputFilter $.features', json, 'JSON.parse+stringify per line');

  // Merge of predictions against cat of the same transform outputs.
  await ours('prepare-merge');
  const outputs = readdirSync(join(dataDir, 'merge'))
    .filter((name) => name.endsWith('.out'))
    .sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]))
    .map((name) => join(dataDir, 'merge', name));
  const outputBytes = outputs.reduce((total, file) => total + statSync(file).size, 0);
  const merge = await alternate(
    () => {
      const target = join(reset(out), 'cat.out');
      return timed(() => run('sh', ['-c', 'cat "$@" > "$0"', target, ...outputs]), outputBytes);
    },
    () => ours('merge'),
  );
  report('merge predictions into input order', merge, 'cat');
  // GNU cat copies file to file inside the kernel (copy_file_range); through a pipe it has to read
  // and write like any program, which is the fairer yardstick for work done on the bytes.
  const piped = await alternate(
    () => {
      const target = join(reset(out), 'cat.out');
      return timed(() => run('sh', ['-c', 'cat "$@" | cat > "$0"', target, ...outputs]), outputBytes);
    },
    () => ours('merge'),
  );
  report('merge predictions into input order', piped, 'cat | cat (copy through user space)');

  // Memory: peak RSS of the filtered sharding on a quarter of the file and on all of it.
  const quarter = join(dataDir, `input-${Math.round(inputMb / 4)}mb.jsonl`);
  await generateInput(quarter, Math.round(inputMb / 4));
  // The same number of runs on each size, highest of each, so that the sizes are compared alike.
  let small = 0;
  for (let k = 0; k < trials; k++) small = Math.max(small, (await ours('shard-json', quarter)).rssMb);
  const large = json.map(([, mine]) => mine.rssMb).reduce((a, b) => Math.max(a, b));
  print({
    name: 'peak RSS, shard JSON Lines, full file against a quarter of it',
    value: large,
    unit: 'MB',
    baseline: small,
    ratio: large / small,
  });
  const peak = Math.max(...[bytes, json, merge].flatMap((pairs) => pairs.map(([, mine]) => mine.rssMb)));
  print({ name: 'peak RSS, any measurement', value: peak, unit: 'MB', baseline: 200, ratio: peak / 200 });
  await benchParquet();
  rmSync(out, { recursive: true, force: true });
}

/**
 * Parquet: a filter reading 2 of 20 columns against the same rows as JSON Lines through the same
 * filter (the columnar read should win), and peak memory over 8 row groups against 2 of the same size
 * (it should not grow with the file: one row group is held at a time).
 */
async function benchParquet(): Promise<void> {
  const parquet = join(dataDir, 'columns-20x1m.parquet');
  const jsonl = join(dataDir, 'columns-20x1m.jsonl');
  await generateColumns(1_000_000, 125_000, parquet, jsonl);
  const filtered = await alternate(
    () => ours('jsonl-columns', jsonl),
    () => ours('parquet-columns', parquet),
  );
  const rowsPerSecond = (r: ChildResult): number => r.records / r.seconds;
  print({
    name: `read + inputFilter ${COLUMNS_FILTER}, 1M rows of 20 double columns, snappy Parquet`,
    value: Math.round(median(filtered.map(([, mine]) => rowsPerSecond(mine)))),
    unit: 'rows/s',
    baseline: Math.round(median(filtered.map(([base]) => rowsPerSecond(base)))),
    baselineName: 'the same rows as JSON Lines, same filter',
    ratio: round(median(filtered.map(([base, mine]) => rowsPerSecond(mine) / rowsPerSecond(base))), 3),
  });

  const groupRows = 256 * 1024;
  const eight = join(dataDir, 'groups-8x256k.parquet');
  const two = join(dataDir, 'groups-2x256k.parquet');
  await generateColumns(8 * groupRows, groupRows, eight);
  await generateColumns(2 * groupRows, groupRows, two);
  let [large, small] = [0, 0];
  for (let k = 0; k < trials; k++) {
    large = Math.max(large, (await ours('parquet-all', eight)).rssMb);
    small = Math.max(small, (await ours('parquet-all', two)).rssMb);
  }
  const [group] = parquetMetadata(readFileSync(eight)).row_groups;
  print({
    name: 'peak RSS, every column of 8 row groups of 256k rows against 2 of them',
    value: large,
    unit: 'MB',
    baseline: small,
    ratio: round(large / small, 3),
    rowGroupMb: round(Number(group?.total_byte_size) / 1e6),
    rowGroupCompressedMb: round(Number(group?.total_compressed_size) / 1e6),
  });
}

type Pair = [ChildResult, ChildResult];

async function alternate(
  baseline: () => ChildResult | Promise<ChildResult>,
  mine: () => Promise<ChildResult>,
): Promise<Pair[]> {
  const pairs: Pair[] = [];
  for (let k = 0; k < trials; k++) pairs.push([await baseline(), await mine()]);
  return pairs;
}

function report(name: string, pairs: Pair[], baselineName: string): void {
  const throughput = (r: ChildResult): number => r.bytes / r.seconds / 1e6;
  const ratio = median(pairs.map(([base, mine]) => throughput(mine) / throughput(base)));
  const mine = median(pairs.map(([, m]) => throughput(m)));
  const base = median(pairs.map(([b]) => throughput(b)));
  print({
    name,
    value: round(mine),
    unit: 'MB/s',
    baseline: round(base),
    baselineName,
    ratio: round(ratio, 3),
  });
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function ours(measurement: string, file = input): Promise<ChildResult> {
  const result = run(process.execPath, [fileURLToPath(import.meta.url), measurement, file]);
  const last = result.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as ChildResult;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed with status ${result.status}`);
  return result.stdout;
}

function timed(action: () => unknown, bytes: number): ChildResult {
  const start = process.hrtime.bigint();
  action();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes, rssMb: 0, records: 0 };
}

function reset(directory: string): string {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  return directory;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

/** `{"id":n,"features":[16 numbers],"tag":"..."}` lines up to the size asked, written once and reused. */
async function generateInput(path: string, megabytes: number): Promise<void> {
  try {
    if (statSync(path).size >= megabytes * 1e6) return;
  } catch {
    // not generated yet
  }
  const handle = await open(path, 'w');
  let written = 0;
  let id = 0;
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  while (written < megabytes * 1e6) {
    const lines: string[] = [];
    for (let k = 0; k < 10_000; k++, id++) {
      const features = Array.from({ length: 16 }, () => (random() * 10).toFixed(6));
      lines.push(`{"id":${id},"features":[${features.join(',')}],"tag":"t${id % 97}"}\n`);
    }
    const block = Buffer.from(lines.join(''));
    await handle.write(block);
    written += block.length;
  }
  await handle.close();
}

/**
 * `rows` rows of 20 double columns (`f0`..`f19`) as snappy Parquet in row groups of `groupRows`, and
 * the same rows as JSON Lines when asked; written once and reused.
 */
async function generateColumns(
  rows: number,
  groupRows: number,
  parquet: string,
  jsonl?: string,
): Promise<void> {
  if ([parquet, jsonl].every((path) => path === undefined || existsSync(path))) return;
  let seed = 7;
  const columns: Record<string, Float64Array> = {};
  for (let c = 0; c < 20; c++) {
    const values = new Float64Array(rows);
    for (let k = 0; k < rows; k++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      values[k] = Math.round((seed / 2147483648) * 1e7) / 1e5;
    }
    columns[`f${c}`] = values;
  }
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.SNAPPY)
    .setMaxRowGroupSize(groupRows)
    .build();
  const table = ParquetTable.fromIPCStream(tableToIPC(tableFromArrays(columns), 'stream'));
  await writeFile(parquet, writeParquet(table, properties));
  if (jsonl === undefined) return;
  const handle = await open(jsonl, 'w');
  const names = Object.keys(columns);
  for (let start = 0; start < rows; start += 10_000) {
    const lines: string[] = [];
    for (let k = start; k < Math.min(rows, start + 10_000); k++) {
      lines.push(`{${names.map((name) => `"${name}":${columns[name]?.[k]}`).join(',')}}\n`);
    }
    await handle.write(lines.join(''));
  }
  await handle.close();
}

async function runChild(measurement: string, file: string): Promise<ChildResult> {
  const out = reset(join(dataDir, 'out'));
  const size = statSync(file).size;
  const shard = async (
    options: Omit<ShardOptions, 'input' | 'maxRecordBytes' | 'requestPerLine' | 'shardBytes'>,
    parquet?: InputFile,
  ) => {
    const settings = {
      input: file,
      maxRecordBytes: 6 << 20,
      requestPerLine: false,
      shardBytes: 64 << 20,
      ...options,
    };
    const targets = {
      openShard: (n: number) => openFileSink(join(out, `shard-${n}`)),
      errors: await openFileSink(join(out, 'errors.jsonl')),
    };
    return parquet
      ? shardFile(parquet, settings, targets)
      : shardInput(readFileChunks(file), settings, targets);
  };
  const start = process.hrtime.bigint();
  let bytes = size;
  let records = 0;
  switch (measurement) {
    case 'shard-lines':
      records = (await shard({ splitType: 'Line', decoding: 'none' })).records.sent;
      break;
    case 'shard-json':
      records = (await shard({ splitType: 'Line', decoding: 'json', inputFilter: '$.features', workers }))
        .records.sent;
      break;
    case 'jsonl-columns':
      records = (await shard({ splitType: 'Line', decoding: 'json', inputFilter: COLUMNS_FILTER, workers }))
        .records.sent;
      break;
    case 'parquet-columns':
    case 'parquet-all': {
      const filter = measurement === 'parquet-columns' ? { inputFilter: COLUMNS_FILTER } : {};
      const options = { splitType: 'Line', decoding: 'parquet', workers, ...filter } as const;
      records = (await shard(options, await fileInput(file))).records.sent;
      break;
    }
    case 'parse-stringify':
      // A throughput baseline: a prefix of the file is enough, and the whole would take minutes.
      bytes = Math.min(size, 256e6);
      records = await parseStringify(file, join(out, 'parsed.jsonl'), bytes);
      break;
    case 'prepare-merge':
      await prepareMerge(file);
      break;
    case 'merge': {
      const index = JSON.parse(await readText(join(dataDir, 'merge', 'index.json'))) as ShardIndex;
      bytes = index.shards.reduce(
        (total, s) => total + statSync(join(dataDir, 'merge', `shard-${s.shard}.out`)).size,
        0,
      );
      const summary = await mergeInput(
        index,
        { shardOutput: (n) => readFileChunks(join(dataDir, 'merge', `shard-${n}.out`)) },
        { tfsMethod: 'predict', joinSource: 'None' },
        {
          out: await openFileSink(join(out, 'input.out')),
          errors: await openFileSink(join(out, 'errors.jsonl')),
        },
      );
      records = summary.out;
      break;
    }
    default:
      throw new Error(`unknown measurement ${measurement}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, bytes, rssMb: Math.round(process.resourceUsage().maxRSS / 1024), records };
}

/** The obvious way to filter JSON Lines: parse each line, take the member, stringify it back. */
async function parseStringify(file: string, output: string, limit: number): Promise<number> {
  const sink = await openFileSink(output);
  let carry = '';
  let records = 0;
  let read = 0;
  for await (const chunk of readFileChunks(file)) {
    if (read >= limit) break;
    read += chunk.length;
    const lines = (carry + chunk.toString('utf8')).split('\n');
    carry = lines.pop() ?? '';
    const out: string[] = [];
    for (const line of lines) {
      if (line.length === 0) continue;
      out.push(JSON.stringify((JSON.parse(line) as { features: unknown }).features));
      records++;
    }
    await sink.write(Buffer.from(`${out.join('\n')}\n`));
  }
  await sink.close();
  return records;
}

/** Shards the input, then writes what a transform job would: 10 class scores per record, 1000 per response. */
async function prepareMerge(file: string): Promise<void> {
  const directory = reset(join(dataDir, 'merge'));
  const index = await shardInput(
    readFileChunks(file),
    {
      input: file,
      splitType: 'Line',
      decoding: 'json',
      inputFilter: '$.features',
      maxRecordBytes: 6 << 20,
      requestPerLine: false,
      shardBytes: 64 << 20,
      workers,
    },
    {
      openShard: async () => ({ write: async () => {}, close: async () => {}, abort: async () => {} }),
      errors: await openFileSink(join(directory, 'errors.jsonl')),
    },
  );
  const scores =
    '[0.012345,0.023456,0.034567,0.045678,0.056789,0.067891,0.078912,0.089123,0.091234,0.512345]';
  for (const shard of index.shards) {
    const sink = await openFileSink(join(directory, `shard-${shard.shard}.out`));
    for (let left = shard.records; left > 0; left -= 1000) {
      const count = Math.min(1000, left);
      await sink.write(
        Buffer.from(`{"predictions":[${Array.from({ length: count }, () => scores).join(',')}]}\n`),
      );
    }
    await sink.close();
  }
  await writeFile(join(directory, 'index.json'), JSON.stringify(index));
}

async function readText(path: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of readFileChunks(path)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}
