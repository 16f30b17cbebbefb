import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundles, kb, overLimit, SIZE_LIMITS } from './bundles.ts';

// `npm run check-bundles`: every deployed function bundled as `sls package` bundles it, each within its
// limit (trigger functions 100 KB, step functions 400 KB; the AWS SDK clients stay out, the runtime
// has them). A bundle over its limit fails the check, naming the modules that weigh most in it.
const outdir = await mkdtemp(join(tmpdir(), 'pipeline-bundles-'));
try {
  const bundles = await buildBundles(outdir);
  const problems = bundles.map(overLimit).filter((problem) => problem !== undefined);
  for (const bundle of bundles) {
    process.stdout.write(
      `${bundle.name.padEnd(8)} ${kb(bundle.bytes).padStart(9)}  (limit ${kb(SIZE_LIMITS[bundle.kind])})\n`,
    );
  }
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
} finally {
  await rm(outdir, { recursive: true, force: true });
}
