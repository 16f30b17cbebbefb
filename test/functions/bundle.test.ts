import { mkdtemp, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The handlers bundled as serverless.yml bundles them for Lambda (CommonJS, AWS SDK clients left to the
// runtime) must load: a native module or a missing file would only show up after a deploy otherwise.
const root = fileURLToPath(new URL('../..', import.meta.url));
const handlers = [
  'plan',
  'shard',
  'route',
  'score',
  'merge',
  'finish',
  'cleanup',
  'ingest',
  'nightly',
  'webhook',
  'sweeper',
];

describe('the Lambda bundles', () => {
  it('build and load every handler', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'pipeline-bundle-'));
    const result = await build({
      entryPoints: handlers.map((name) => join(root, 'functions', `${name}.ts`)),
      outdir,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      outExtension: { '.js': '.cjs' },
      external: ['@aws-sdk/client-*'],
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    // The runtime provides the SDK clients; here they come from the project's node_modules.
    await symlink(join(root, 'node_modules'), join(outdir, 'node_modules'));
    for (const name of handlers) {
      const module = createRequire(import.meta.url)(join(outdir, `${name}.cjs`)) as { handler?: unknown };
      expect(typeof module.handler, name).toBe('function');
    }
  }, 60_000);
});
