import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-store.ts';
import { mergeInput } from '../../src/core/merge/merger.ts';
import { readText, writeText } from '../../src/core/ports/object-store.ts';
import { shardInput } from '../../src/core/shard/sharder.ts';
import { objectStoreContract } from './object-store.contract.ts';

// A real S3-compatible server (s3rver) in its own process, on a free loopback port.
let server: ChildProcess | undefined;
let store: S3ObjectStore;

beforeAll(async () => {
  const port = await freePort();
  const directory = await mkdtemp(join(tmpdir(), 'pipeline-s3rver-'));
  const bin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  // Listings that are truncated fail under OpenSSL 3 without the legacy provider (its MD5 use).
  server = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      bin,
      '-d',
      directory,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--configure-bucket',
      'pipeline',
      '--silent',
    ],
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  store = new S3ObjectStore({ bucket: 'pipeline', client: createS3Client({ endpoint }) });
  await waitForServer(store);
}, 30_000);

afterAll(() => {
  server?.kill();
});

objectStoreContract('S3 (s3rver)', () => store);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function waitForServer(s3: S3ObjectStore): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await s3.head('ready-check');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('the record engine on S3', () => {
  it('shards an object and merges its outputs back, streaming both ways through the bucket', async () => {
    // Prepare: an input in the inbox, one bad line among 20000.
    const lines = Array.from({ length: 20_000 }, (_, k) =>
      k === 777 ? '{oops' : JSON.stringify({ id: k, features: [k, -k] }),
    );
    await writeText(store, 'inbox/data.jsonl', `${lines.join('\n')}\n`);
    const index = await shardInput(
      store.read('inbox/data.jsonl'),
      {
        input: 'data.jsonl',
        splitType: 'Line',
        decoding: 'json',
        inputFilter: '$.features',
        maxPayloadBytes: 6 << 20,
        shardBytes: 50_000,
        requestPerLine: false,
      },
      {
        openShard: (n) => store.write(`work/job/shards/${n}.jsonl`),
        errors: await store.write('work/job/errors/data.jsonl'),
      },
    );
    // A model that answers each shard's instances, negated, in responses of 100.
    for (const shard of index.shards) {
      const instances = (await readText(store, `work/job/shards/${shard.shard}.jsonl`)).trim().split('\n');
      const responses: string[] = [];
      for (let k = 0; k < instances.length; k += 100) {
        const predictions = instances
          .slice(k, k + 100)
          .map((line) => (JSON.parse(line) as number[]).map((x) => -x));
        responses.push(JSON.stringify({ predictions }));
      }
      await writeText(store, `work/job/shards/${shard.shard}.jsonl.out`, `${responses.join('\n')}\n`);
    }
    // Act
    const summary = await mergeInput(
      index,
      { shardOutput: (n) => store.read(`work/job/shards/${n}.jsonl.out`) },
      { tfsMethod: 'predict', joinSource: 'None' },
      {
        out: await store.write('results/job/data.jsonl.out'),
        errors: await store.write('work/job/errors/merge.jsonl'),
      },
    );
    // Assess
    expect(index.shards.length).toBeGreaterThan(3);
    expect(summary).toMatchObject({ records: 20_000, out: 19_999, errors: 1 });
    const out = (await readText(store, 'results/job/data.jsonl.out')).trim().split('\n');
    expect(out[0]).toBe('[0,0]');
    expect(out[777]).toBe('[-778,778]');
    expect(JSON.parse(await readText(store, 'work/job/errors/data.jsonl'))).toMatchObject({
      record: 778,
      line: 778,
    });
    expect(await store.deletePrefix('work/job/')).toBe(2 * index.shards.length + 2);
  });
});
