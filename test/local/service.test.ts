import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalService, startLocalService } from '../../src/local/service.ts';

// The local service in this process: the inbox watcher, the local schedule and the queue runner,
// with the bundled iris model copied into the data dir as a bucket would hold it.

const samples = fileURLToPath(new URL('../../samples/', import.meta.url));
let service: LocalService | undefined;

afterEach(async () => {
  await service?.close();
  service = undefined;
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipeline-service-'));
  await mkdir(join(dir, 'config'), { recursive: true });
  await mkdir(join(dir, 'inbox'), { recursive: true });
  await cp(join(samples, 'models'), join(dir, 'models'), { recursive: true });
  await writeFile(
    join(dir, 'config', 'default-job.json'),
    JSON.stringify({ model: 'models/iris', dataProcessing: { inputFilter: '$.features' } }),
  );
  return dir;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error('timed out');
}

async function summaries(dir: string): Promise<Record<string, { status: string; records: { in: number } }>> {
  const found: Record<string, { status: string; records: { in: number } }> = {};
  for (const job of await readdir(join(dir, 'results')).catch(() => [] as string[])) {
    const text = await readFile(join(dir, 'results', job, '_summary.json'), 'utf8').catch(() => undefined);
    if (text) found[job] = JSON.parse(text);
  }
  return found;
}

describe('the local service', () => {
  it('applies a sidecar copied just after its file', async () => {
    const dir = await dataDir();
    service = await startLocalService({
      dataDir: dir,
      port: 0,
      secret: 's',
      settleMs: 200,
      pollMs: 50,
      sidecarSeconds: 1,
    });
    await cp(join(samples, 'iris.jsonl'), join(dir, 'inbox', 'iris.jsonl'));
    await sleep(400);
    await writeFile(join(dir, 'inbox', 'iris.jsonl.job.json'), JSON.stringify({ maxErrorPercent: 0 }));
    const done = await waitFor(async () => {
      const found = Object.entries(await summaries(dir));
      return found.length > 0 ? found : undefined;
    });
    expect(done).toHaveLength(1);
    const [job] = done[0] ?? [];
    const record = JSON.parse(await readFile(join(dir, 'results', job ?? '', '_job.json'), 'utf8'));
    expect(record.job).toMatchObject({ model: 'models/iris', maxErrorPercent: 0 });
  });

  it('scores each nightly dataset once a day however often the schedule fires', async () => {
    const dir = await dataDir();
    await mkdir(join(dir, 'datasets', 'iris'), { recursive: true });
    await cp(join(samples, 'iris.jsonl'), join(dir, 'datasets', 'iris', 'part-1.jsonl'));
    await writeFile(
      join(dir, 'config', 'nightly.json'),
      // Every second, for the test: the real schedule is once a night.
      JSON.stringify({ schedule: '* * * * * *', datasets: [{ name: 'iris', prefix: 'datasets/iris/' }] }),
    );
    const lines: string[] = [];
    service = await startLocalService({
      dataDir: dir,
      port: 0,
      secret: 's',
      pollMs: 50,
      log: (line) => lines.push(line),
    });
    const day = new Date().toISOString().slice(0, 10);
    const summary = await waitFor(async () => (await summaries(dir))[`nightly-iris-${day}`]);
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 150 } });
    await waitFor(async () =>
      lines.some((line) => line.includes('nightly: iris skipped')) ? true : undefined,
    );
    expect(Object.keys(await summaries(dir))).toEqual([`nightly-iris-${day}`]);
  });
});
