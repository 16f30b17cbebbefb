/**
 * Many small inputs in one job: `npx pipeline run` on a folder of 5,000 tiny JSON Lines files (two iris
 * records each; BENCH_FILES sets the count) against `npx pipeline run` on one file holding the same
 * records in the same order, same model and job, each timed as a whole process. The issue asks for the
 * folder to take at most 3 times as long. Trials alternate (BENCH_TRIALS, 3); the ratio is the median.
 * Prints one JSON object per line: {"name", "value", "unit", "baseline", "ratio", "bound"}.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discard } from './trash.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const dataDir = process.env.BENCH_DIR ?? join(root, 'bench/.data');
const files = Number(process.env.BENCH_FILES ?? 5_000);
const trials = Number(process.env.BENCH_TRIALS ?? 3);
const RECORDS_PER_FILE = 2;
const BOUND = 3;
const folder = join(dataDir, `jsonl-files-${files}`);
const single = join(dataDir, `jsonl-files-${files}.jsonl`);
const records = files * RECORDS_PER_FILE;

mkdirSync(dataDir, { recursive: true });
generate();
const job = join(dataDir, 'many-files.job.json');
writeFileSync(
  job,
  JSON.stringify({ model: join(root, 'samples/models/iris'), dataProcessing: { inputFilter: '$.features' } }),
);
// Each run writes its results to a folder of its own, all moved to the trash once the trials are over
// (see trash.ts): a clean-up between trials would slow the next one's file creation.
const outputs = join(dataDir, 'many-files-out');
discard(outputs);
const ours: number[] = [];
const baseline: number[] = [];
for (let trial = 0; trial < trials; trial++) {
  baseline.push(run(single, 'one file', join(outputs, `${trial}-one-file`)));
  ours.push(run(folder, 'the folder', join(outputs, `${trial}-folder`)));
}
discard(outputs);
print({
  name: `npx pipeline run on a folder of ${files} JSON Lines files of ${RECORDS_PER_FILE} records, iris model`,
  value: Math.round(median(ours) * 100) / 100,
  unit: 's',
  baseline: `one file of the same ${records} records: ${Math.round(median(baseline) * 100) / 100} s`,
  ratio: Math.round(median(ours.map((value, k) => value / (baseline[k] ?? value))) * 100) / 100,
  bound: `<= ${BOUND}`,
});

/** Seconds `npx pipeline run <input>` takes, checked to have scored every record. */
function run(input: string, what: string, out: string): number {
  const start = process.hrtime.bigint();
  const result = spawnSync('npx', ['pipeline', 'run', input, '--job', job, '--out', out, '--json'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) {
    throw new Error(
      `pipeline run on ${what} (${input}) exited with ${result.status}; the folder needs folder inputs and no cap on a job's inputs: ${result.stderr.trim().split('\n').slice(-3).join('\n')}`,
    );
  }
  const summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { records?: { out: number } };
  if (summary.records?.out !== records) {
    throw new Error(`pipeline run on ${what} scored ${summary.records?.out} of ${records} records`);
  }
  return seconds;
}

/** Iris records, RECORDS_PER_FILE to a file, 100 files to a folder; the one file holds them all in key order. */
function generate(): void {
  if (existsSync(single)) return;
  rmSync(folder, { recursive: true, force: true });
  const iris = readFileSync(join(root, 'samples/iris.jsonl'), 'utf8').trimEnd().split('\n');
  const all: string[] = [];
  for (let k = 0; k < files; k++) {
    const lines = Array.from(
      { length: RECORDS_PER_FILE },
      (_, r) => iris[(k * RECORDS_PER_FILE + r) % iris.length] as string,
    );
    const dir = join(folder, String(Math.floor(k / 100)).padStart(3, '0'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${String(k).padStart(5, '0')}.jsonl`), `${lines.join('\n')}\n`);
    all.push(...lines);
  }
  // The one file appears last, whole, so a folder cut short by an interruption is made again.
  writeFileSync(`${single}.partial`, `${all.join('\n')}\n`);
  renameSync(`${single}.partial`, single);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
