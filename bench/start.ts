/**
 * How fast things start: the command line (`--help`, a usage error, a one-record `pipeline run`, node
 * directly, wall time, median of BENCH_TRIALS runs) against its bounds, with the run's time split as
 * `--timings` reports it; and each Lambda bundle's size and the time a fresh Node process takes to
 * load it (the AWS SDK resolvable from node_modules, as the Lambda runtime has it). Prints one JSON
 * object per line: {"name", "value", "unit", "bound"}.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundles, kb } from '../scripts/bundles.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = join(root, 'bin/pipeline.js');
const trials = Number(process.env.BENCH_TRIALS ?? 5);
const work = mkdtempSync(join(tmpdir(), 'bench-start-'));

function timed(args: string[]): { seconds: number; stderr: string; status: number | null } {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root });
  return {
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    stderr: result.stderr,
    status: result.status,
  };
}

function median<T>(runs: T[], key: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor(sorted.length / 2)] as T;
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function commandLine(name: string, args: string[], bound: number): ReturnType<typeof timed> {
  const runs = Array.from({ length: trials }, () => timed([bin, ...args]));
  const run = median(runs, (r) => r.seconds);
  print({ name, value: Math.round(run.seconds * 1000) / 1000, unit: 's', bound: `< ${bound} s` });
  return run;
}

commandLine('pipeline --help, node directly', ['--help'], 0.25);
commandLine('pipeline run with no file (a usage error), node directly', ['run'], 0.25);

const one = join(work, 'one.jsonl');
writeFileSync(one, '{"id":1,"features":[5.1,3.5,1.4,0.2]}\n');
const job = join(root, 'samples/iris.job.json');
const run = commandLine(
  'pipeline run of one record, node directly',
  ['run', one, '--job', job, '--out', join(work, 'out'), '--timings'],
  1.2,
);
if (run.status !== 0) throw new Error(`pipeline run failed: ${run.stderr}`);
print({ name: 'where that run went', value: /Timings: (.*)/.exec(run.stderr)?.[1] ?? run.stderr });

const outdir = join(work, 'bundles');
const bundles = await buildBundles(outdir);
symlinkSync(join(root, 'node_modules'), join(outdir, 'node_modules'));
// A bundle's load time in a fresh process, and the part of it that is the bundle's own code: the same
// load once the AWS SDK clients it uses (external: the runtime has them) are already loaded. The
// process first loads node:http, as the Lambda runtime has before it loads a handler (its client of
// the Runtime API is built on it), so a bundle is not charged for it.
function loadMs(path: string, sdkFirst: boolean): number {
  const script = [
    `const path = ${JSON.stringify(path)};`,
    "require('node:http');",
    sdkFirst
      ? "for (const name of require('node:fs').readFileSync(path, 'utf8').match(/@aws-sdk\\/client-[a-z0-9-]+/g) ?? []) require(name);"
      : '',
    'const t = performance.now(); require(path); console.log(performance.now() - t);',
  ].join('\n');
  const runs = Array.from({ length: trials }, () => {
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: outdir });
    if (result.status !== 0) throw new Error(`${path} does not load: ${result.stderr}`);
    return Number(result.stdout);
  });
  return Math.round(median(runs, (ms) => ms));
}

for (const bundle of bundles) {
  const bound = bundle.kind === 'trigger' ? 80 : 200;
  print({
    name: `${bundle.name} function, bundle ${kb(bundle.bytes)}: load in a fresh process (its own code: ${loadMs(bundle.path, true)} ms; the rest is the AWS SDK clients it uses)`,
    value: loadMs(bundle.path, false),
    unit: 'ms',
    bound: `< ${bound} ms`,
  });
}
