import './quiet.ts';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { main } from '../../../src/cli/main.ts';

// `pipeline <args>`, whose Merge step stops in the middle of writing its output: once a megabyte of a
// result is written, it says so on stdout (`midway <key>`) and waits to be killed.
const MIDWAY_BYTES = 1 << 20;
const write = LocalObjectStore.prototype.write;
LocalObjectStore.prototype.write = async function (this: LocalObjectStore, key: string) {
  const sink = await write.call(this, key);
  if (!/^results\/[^/]+\/.+\.out$/.test(key)) return sink;
  let written = 0;
  return {
    write: async (chunk: Uint8Array) => {
      await sink.write(chunk);
      written += chunk.length;
      if (written < MIDWAY_BYTES) return;
      process.stdout.write(`midway ${key}\n`);
      // A timer keeps the process alive until it is killed.
      await new Promise<never>(() => setInterval(() => undefined, 60_000));
    },
    close: () => sink.close(),
    abort: () => sink.abort(),
  };
};
process.exitCode = await main(process.argv.slice(2));
