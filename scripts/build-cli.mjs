// `npm run build` (and `prepare`, which `npm ci` runs): the command line's TypeScript compiled once into
// JavaScript under .cache/cli/, so `pipeline` starts without Node stripping types from ~200
// modules on every run. bin/pipeline.js uses this build only while every source it came from is
// unchanged (stamp.json); otherwise it runs the sources themselves, as it does without a build.
import { statSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
// Not under node_modules: npm takes any change there as a reason to read the whole tree again.
export const BUILD_DIR = join(root, '.cache', 'cli');
const URL_IN_SOURCE = /new URL\('([^']+)', import\.meta\.url\)/g;

/** Every TypeScript file a source starts by URL (worker threads, module hooks): entries of their own. */
async function startedByUrl(dir) {
  const found = new Map();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    for (const [, target] of (await readFile(file, 'utf8')).matchAll(URL_IN_SOURCE)) {
      if (target.endsWith('.ts'))
        found.set(resolve(dirname(file), target), outputName(resolve(dirname(file), target)));
    }
  }
  return found;
}

function outputName(file) {
  return relative(join(root, 'src'), file).replace(/\.ts$/, '').replaceAll('/', '-');
}

/**
 * A source's `new URL('<relative>', import.meta.url)` means a file beside the source: in the build it
 * becomes the built entry of a started module, or the absolute URL of anything else (data, folders).
 */
function urlsOfSources(entries) {
  return {
    name: 'urls-of-sources',
    setup(plugin) {
      plugin.onLoad({ filter: /\/src\/.*\.ts$/ }, async ({ path }) => {
        const text = await readFile(path, 'utf8');
        const contents = text.replace(URL_IN_SOURCE, (_, target) => {
          const file = resolve(dirname(path), target);
          const entry = entries.get(file);
          if (entry) return `new URL('./${entry}.js', import.meta.url)`;
          const url = pathToFileURL(file).href + (target.endsWith('/') ? '/' : '');
          return `new URL(${JSON.stringify(url)})`;
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}

/**
 * The interpreter library is bundled, its imports of the AWS SDK and of asl-validator resolved to the
 * stand-in at build time, so the build needs no module hooks at run time (see interpreter-library.ts).
 */
function interpreterWithStandIns(standIn) {
  const library = join(root, 'src/local/interpreter-library.ts');
  return {
    name: 'interpreter-with-stand-ins',
    setup(plugin) {
      plugin.onLoad({ filter: /\/src\/local\/interpreter-library\.ts$/ }, () => ({
        contents: "export function importInterpreterLibrary() { return import('aws-local-stepfunctions'); }",
        loader: 'ts',
        resolveDir: dirname(library),
      }));
      plugin.onResolve({ filter: /^aws-local-stepfunctions$/ }, (args) =>
        args.importer === library ? { path: fileURLToPath(import.meta.resolve(args.path)) } : undefined,
      );
      plugin.onResolve(
        { filter: /^(@aws-sdk\/client-lambda|@aws-sdk\/credential-providers|asl-validator)$/ },
        (args) =>
          args.importer.includes('/node_modules/aws-local-stepfunctions/') ? { path: standIn } : undefined,
      );
    },
  };
}

export async function buildCli(outdir = BUILD_DIR) {
  const entries = await startedByUrl(join(root, 'src'));
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: [
      { in: join(root, 'src/cli/main.ts'), out: 'main' },
      ...[...entries].map(([file, name]) => ({ in: file, out: name })),
    ],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    chunkNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      interpreterWithStandIns(join(root, 'src/local/interpreter-stand-in.ts')),
      urlsOfSources(entries),
    ],
  });
  const inputs = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = resolve(root, input);
    inputs[file] = statSync(file).mtimeMs;
  }
  await writeFile(join(outdir, 'stamp.json'), JSON.stringify({ root, inputs }));
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
