import { execFile } from 'node:child_process';
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build-cli.mjs';

const samples = fileURLToPath(new URL('../../samples/', import.meta.url));

/** `pipeline <args>` through the build in `outdir`, in a process of its own. */
async function runBuilt(outdir: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  const entry = join(outdir, 'pipeline.mjs');
  await writeFile(
    entry,
    "const { main } = await import('./main.js');\nprocess.exitCode = await main(process.argv.slice(2));\n",
  );
  return new Promise((resolve) => {
    execFile(process.execPath, [entry, ...args], (error, _stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stderr });
    });
  });
}

// The command line as `npm ci` builds it for a quick start: it must do what the sources do, worker
// threads, module files and data found where the sources find them.
describe('the command line build', () => {
  it('scores the bundled sample, its model server on the worker threads it starts', async () => {
    // Prepare
    const outdir = await mkdtemp(join(tmpdir(), 'pipeline-build-'));
    const out = join(outdir, 'results');
    await buildCli(outdir);
    // Built under the project's .cache/, it finds its packages in the project's node_modules; here too.
    await symlink(
      fileURLToPath(new URL('../../node_modules', import.meta.url)),
      join(outdir, 'node_modules'),
    );
    // Act
    const run = await runBuilt(
      outdir,
      'run',
      join(samples, 'iris.jsonl'),
      '--job',
      join(samples, 'iris.job.json'),
      '--out',
      out,
    );
    // Assess
    expect(run).toMatchObject({
      code: 0,
      stderr: expect.stringContaining('Succeeded: 150 records in, 150 scored'),
    });
    expect((await readFile(join(out, 'iris.jsonl.out'), 'utf8')).trim().split('\n')).toHaveLength(150);
    const stamp = JSON.parse(await readFile(join(outdir, 'stamp.json'), 'utf8')) as { inputs: object };
    expect(Object.keys(stamp.inputs)).toContain(
      fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)),
    );
  }, 120_000);
});
