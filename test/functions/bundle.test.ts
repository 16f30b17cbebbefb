import { mkdtemp, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildBundles, overLimit } from '../../scripts/bundles.ts';

// The handlers bundled as serverless.yml bundles them for Lambda (esbuild.config.cjs: CommonJS,
// minified, AWS SDK clients left to the runtime) must load: a native module or a missing file would
// only show up after a deploy otherwise.
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the Lambda bundles', () => {
  it('build, load, and stay within their size limits', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'pipeline-bundle-'));
    const bundles = await buildBundles(outdir);
    // The runtime provides the SDK clients; here they come from the project's node_modules.
    await symlink(join(root, 'node_modules'), join(outdir, 'node_modules'));
    for (const bundle of bundles) {
      const module = createRequire(import.meta.url)(bundle.path) as { handler?: unknown };
      expect(typeof module.handler, bundle.name).toBe('function');
      expect(overLimit(bundle), bundle.name).toBeUndefined();
    }
    expect(bundles.map((bundle) => bundle.name).sort()).toEqual([
      'cleanup',
      'finish',
      'ingest',
      'merge',
      'nightly',
      'plan',
      'route',
      'score',
      'shard',
      'sweeper',
      'webhook',
    ]);
  }, 60_000);

  it('names what weighs most in a bundle over its limit', () => {
    const heavy = {
      name: 'ingest',
      kind: 'trigger' as const,
      path: '',
      bytes: 150 * 1024,
      heaviest: [
        { module: 'zod', bytes: 90 * 1024 },
        { module: 'src/core/records/csv.ts', bytes: 40 * 1024 },
      ],
    };
    expect(overLimit(heavy)).toBe(
      'ingest: 150.0 KB, over the 100.0 KB a trigger function may weigh; heaviest: zod 90.0 KB, src/core/records/csv.ts 40.0 KB',
    );
    expect(overLimit({ ...heavy, kind: 'step' })).toBeUndefined();
  });
});
