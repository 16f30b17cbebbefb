import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarmPools } from '../../../src/local/model-server/pool.ts';
import { defaultWorkers, startModelServer, warmModelServer } from '../../../src/local/model-server/server.ts';

const iris = fileURLToPath(new URL('../../../samples/models/iris', import.meta.url));
const irisFile = join(iris, '1', 'model.onnx');

async function predict(url: string): Promise<number[][]> {
  const response = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { predictions: number[][] }).predictions;
}

describe('warm pools', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'warm-pools-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('hands a server started on a warmed model folder the sessions already loaded', async () => {
    const pools = new WarmPools();
    await warmModelServer(iris, pools);
    expect(pools.size).toBe(1);

    const server = await startModelServer({ model: iris, warmPools: pools });
    try {
      expect(pools.size).toBe(0);
      const [scores] = await predict(server.url);
      expect(scores).toHaveLength(3);
      expect(scores?.indexOf(Math.max(...(scores ?? [])))).toBe(0);
    } finally {
      await server.close();
      await pools.close();
    }
  });

  it('keeps a pool for other workers out of a server, and stops it on close', async () => {
    const pools = new WarmPools();
    pools.warm([irisFile], 1);
    const server = await startModelServer({ model: iris, workers: 2, warmPools: pools });
    try {
      expect(pools.size).toBe(1);
      await predict(server.url);
    } finally {
      await server.close();
    }
    const left = pools.take([irisFile], 1);
    expect(left).toBeDefined();
    pools.warm([irisFile], 1);
    await pools.close();
    expect(pools.size).toBe(0);
    // Warming after close starts nothing, so no worker is left to keep the process alive.
    pools.warm([irisFile], defaultWorkers());
    expect(pools.size).toBe(0);
    await (await left)?.close();
  });

  it('fails the server that takes a pool which could not load, as a cold start would', async () => {
    const broken = join(root, 'broken');
    await mkdir(join(broken, '1'), { recursive: true });
    await writeFile(join(broken, '1', 'model.onnx'), 'not a model');
    const pools = new WarmPools();
    await warmModelServer(broken, pools);

    await expect(startModelServer({ model: broken, warmPools: pools })).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringContaining(join(broken, '1', 'model.onnx')),
    });
    expect(pools.size).toBe(0);
  });

  it('warms no archive: each server unpacks its own', async () => {
    const archive = join(root, 'model.tar.gz');
    await writeFile(archive, 'not read');
    const pools = new WarmPools();
    await warmModelServer(archive, pools);
    expect(pools.size).toBe(0);
  });
});
