import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The functions that only start work (small, and on a caller's path) and the state machine's steps. */
export const TRIGGER_FUNCTIONS = ['ingest', 'webhook', 'nightly', 'sweeper'] as const;
export const STEP_FUNCTIONS = ['plan', 'shard', 'route', 'score', 'merge', 'finish', 'cleanup'] as const;
export const SIZE_LIMITS = { trigger: 100 * 1024, step: 400 * 1024 } as const;

export interface Bundle {
  readonly name: string;
  readonly kind: keyof typeof SIZE_LIMITS;
  readonly path: string;
  readonly bytes: number;
  /** The modules (or packages) that weigh most in it, heaviest first, in bytes. */
  readonly heaviest: { module: string; bytes: number }[];
}

/** esbuild's options as serverless-esbuild gets them from esbuild.config.cjs, without the plugin's own. */
function esbuildOptions(): BuildOptions {
  const config = createRequire(import.meta.url)(join(root, 'esbuild.config.cjs')) as () => Record<
    string,
    unknown
  >;
  const { outputFileExtension, exclude: _packagedApart, ...options } = config();
  return { ...options, outExtension: { '.js': String(outputFileExtension) } } as BuildOptions;
}

/** Builds every deployed function as `sls package` does, into `outdir`, and weighs each bundle. */
export async function buildBundles(outdir: string): Promise<Bundle[]> {
  const names = [...TRIGGER_FUNCTIONS, ...STEP_FUNCTIONS];
  const result = await build({
    ...esbuildOptions(),
    entryPoints: names.map((name) => join(root, 'functions', `${name}.ts`)),
    outdir,
    metafile: true,
    logLevel: 'silent',
  });
  return names.map((name) => {
    const [path, output] = Object.entries(result.metafile.outputs).find(([file]) =>
      file.endsWith(`/${name}.cjs`),
    ) as [string, Metafile['outputs'][string]];
    return {
      name,
      kind: (TRIGGER_FUNCTIONS as readonly string[]).includes(name) ? 'trigger' : 'step',
      path: join(root, path),
      bytes: output.bytes,
      heaviest: heaviest(output.inputs),
    };
  });
}

/** What weighs most in a bundle: each package of node_modules as one, each source file alone. */
function heaviest(inputs: Metafile['outputs'][string]['inputs']): { module: string; bytes: number }[] {
  const weights = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path;
    weights.set(module, (weights.get(module) ?? 0) + bytesInOutput);
  }
  return [...weights]
    .map(([module, bytes]) => ({ module, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5);
}

/** Why a bundle is over its limit, naming what weighs most in it; undefined when it is within. */
export function overLimit(bundle: Bundle): string | undefined {
  const limit = SIZE_LIMITS[bundle.kind];
  if (bundle.bytes <= limit) return undefined;
  const weights = bundle.heaviest.map(({ module, bytes }) => `${module} ${kb(bytes)}`).join(', ');
  return `${bundle.name}: ${kb(bundle.bytes)}, over the ${kb(limit)} a ${bundle.kind} function may weigh; heaviest: ${weights}`;
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
