#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Where the time of a run goes starts here (`pipeline run --timings`; src/local/marks.ts names it).
performance.mark('pipeline:start');

// The command line runs on Node.js 22.18 or later. Through `npx pipeline` (or an npm script) the Node 22
// installed with the project's dependencies is used.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `pipeline needs Node.js 22.18 or later (this is ${process.version}): run it as "npx pipeline ..." from the project folder.\n`,
  );
  process.exit(2);
}
// The step functions log for CloudWatch; on the command line their errors are reported by the command.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

/**
 * The build of the command line `npm ci` makes (scripts/build-cli.mjs), while every source it was built
 * from is unchanged; else undefined, and the TypeScript sources run as they are.
 */
function freshBuild() {
  const build = new URL('../.cache/cli/', import.meta.url);
  try {
    const stamp = JSON.parse(readFileSync(new URL('stamp.json', build), 'utf8'));
    if (stamp.root !== fileURLToPath(new URL('..', import.meta.url))) return undefined;
    for (const [file, mtimeMs] of Object.entries(stamp.inputs)) {
      if (statSync(file).mtimeMs !== mtimeMs) return undefined;
    }
    return new URL('main.js', build).href;
  } catch {
    return undefined;
  }
}

const { main } = await import(freshBuild() ?? '../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
