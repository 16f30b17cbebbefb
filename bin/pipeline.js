#!/usr/bin/env node
// The command line runs the TypeScript sources directly, which needs Node.js 22.18 or later. Through
// `npx pipeline` (or an npm script) the Node 22 installed with the project's dependencies is used.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `pipeline needs Node.js 22.18 or later (this is ${process.version}): run it as "npx pipeline ..." from the project folder.\n`,
  );
  process.exit(2);
}
// The step functions log for CloudWatch; on the command line their errors are reported by the command.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
