import { cp, mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Field, Float64, Int32, List, Table, vectorFromArray } from 'apache-arrow';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalService, startLocalService } from '../../src/local/service.ts';
import { scalingModel } from '../support/models.ts';
import { parquetFile } from '../support/parquet.ts';

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

describe('inbox batches in the local service', () => {
  // A model that doubles [x, y], so every answer can be worked out; outputs keep the record's id.
  async function batchDataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pipeline-batch-'));
    await mkdir(join(dir, 'config'), { recursive: true });
    await mkdir(join(dir, 'inbox'), { recursive: true });
    await scalingModel(join(dir, 'models', 'double'), 1, 2);
    await writeFile(
      join(dir, 'config', 'default-job.json'),
      JSON.stringify({
        model: 'models/double',
        dataProcessing: {
          inputFilter: '$.features',
          joinSource: 'Input',
          outputFilter: "$['id','SageMakerOutput']",
        },
      }),
    );
    return dir;
  }

  async function start(dir: string, settleMs = 200): Promise<string[]> {
    const lines: string[] = [];
    service = await startLocalService({
      dataDir: dir,
      port: 0,
      secret: 's',
      settleMs,
      pollMs: 50,
      sidecarSeconds: 0,
      log: (line) => lines.push(line),
    });
    return lines;
  }

  function logged(lines: string[], text: string): Promise<string> {
    return waitFor(async () => lines.find((line) => line.includes(text)));
  }

  async function filesBelow(folder: string): Promise<string[]> {
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
      .sort();
  }

  const jsonl = (ids: number[]) => ids.map((id) => `{"id":${id},"features":[${id},0.5]}\n`).join('');

  it('scores a folder copied file by file as one job once its _SUCCESS marker arrives, each file named relative to the folder', async () => {
    const dir = await batchDataDir();
    const lines = await start(dir);
    const batch = join(dir, 'inbox', 'day-1');
    await mkdir(join(batch, 'sub'), { recursive: true });

    await writeFile(join(batch, 'a.jsonl'), jsonl([1, 2]));
    await logged(
      lines,
      'skipped inbox/day-1/a.jsonl: part of batch inbox/day-1/, waiting for its _SUCCESS marker',
    );
    await writeFile(join(batch, 'sub', 'b.jsonl'), jsonl([3]));
    await logged(lines, 'skipped inbox/day-1/sub/b.jsonl: part of batch inbox/day-1/');
    await writeFile(join(batch, '.a.jsonl.crc'), 'checksum');
    await logged(lines, 'skipped inbox/day-1/.a.jsonl.crc: part of batch inbox/day-1/');
    expect(await service?.stack.executions.list()).toEqual([]);
    await writeFile(join(batch, '_SUCCESS'), '');

    const [job, summary] = await waitFor(async () => {
      const found = Object.entries(await summaries(dir));
      return found.length > 0 ? found[0] : undefined;
    });
    expect(job).toMatch(/^inbox-day-1-[0-9a-f]{20}$/);
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 3, out: 3, errors: 0 } });
    const results = join(dir, 'results', job);
    expect(await filesBelow(results)).toEqual([
      '_errors.jsonl',
      '_job.json',
      '_summary.json',
      'a.jsonl.out',
      'sub/b.jsonl.out',
    ]);
    expect(await readFile(join(results, 'a.jsonl.out'), 'utf8')).toBe(
      '{"id":1,"SageMakerOutput":[2.0,1.0]}\n{"id":2,"SageMakerOutput":[4.0,1.0]}\n',
    );
    expect(await readFile(join(results, 'sub', 'b.jsonl.out'), 'utf8')).toBe(
      '{"id":3,"SageMakerOutput":[6.0,1.0]}\n',
    );
    expect((await service?.stack.executions.list())?.map((execution) => execution.name)).toEqual([job]);
  });

  it('starts nothing for a folder without its _SUCCESS marker', async () => {
    const dir = await batchDataDir();
    const lines = await start(dir);
    // Made beside the inbox and moved in at once, as a finished copy arrives.
    const staged = join(dir, 'staged');
    await mkdir(join(staged, 'sub'), { recursive: true });
    await writeFile(join(staged, 'a.jsonl'), jsonl([1]));
    await writeFile(join(staged, 'sub', 'b.jsonl'), jsonl([2]));
    await writeFile(join(staged, 'sub', '_SUCCESS'), '');
    await rename(staged, join(dir, 'inbox', 'unmarked'));

    // Once the service has taken every file in as settled, it has queued whatever it would start.
    await logged(lines, 'skipped 2 files: part of batch inbox/unmarked/, waiting for its _SUCCESS marker');
    await logged(
      lines,
      'skipped inbox/unmarked/sub/_SUCCESS: a _SUCCESS marker inside batch inbox/unmarked/: only inbox/unmarked/_SUCCESS starts it',
    );
    expect(await service?.stack.executions.list()).toEqual([]);
    expect(await summaries(dir)).toEqual({});
  });

  it('lets a batch marker count only once every file of its batch has stopped changing', async () => {
    const dir = await batchDataDir();
    const lines = await start(dir, 1000);
    const batch = join(dir, 'inbox', 'slow');
    await mkdir(batch);

    // The marker and a first part copied first, a second part still being written.
    await writeFile(join(batch, '_SUCCESS'), '');
    await writeFile(join(batch, 'part-0.jsonl'), jsonl([1]));
    let written = 0;
    let writing = true;
    const growing = (async () => {
      while (writing) await writeFile(join(batch, 'part-1.jsonl'), jsonl([++written]));
    })();
    // The first part has settled, and the marker with it: still no job while the other part changes.
    await logged(lines, 'skipped inbox/slow/part-0.jsonl');
    const queuedMeanwhile = await service?.stack.executions.list();
    writing = false;
    await growing;

    const [job, summary] = await waitFor(async () => Object.entries(await summaries(dir))[0]);
    expect(queuedMeanwhile).toEqual([]);
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 2, out: 2 } });
    // The part as it ended up, not as it was when the marker arrived.
    expect(await readFile(join(dir, 'results', job, 'part-1.jsonl.out'), 'utf8')).toBe(
      `{"id":${written},"SageMakerOutput":[${2 * written}.0,1.0]}\n`,
    );
  });

  it('scores a folder of Parquet part files as Spark writes it, copied with its marker, as one job with one output per part', async () => {
    const dir = await batchDataDir();
    const spark = join(dir, 'spark-output');
    await mkdir(spark);
    const parts = [
      { file: 'part-00000-5b1e0d1c-8c1a-4a57-9f0e-0c1d2e3f4a5b-c000.snappy.parquet', ids: [1, 2, 3] },
      { file: 'part-00001-5b1e0d1c-8c1a-4a57-9f0e-0c1d2e3f4a5b-c000.snappy.parquet', ids: [4, 5] },
    ];
    for (const { file, ids } of parts) {
      const table = new Table({
        id: vectorFromArray(ids, new Int32()),
        features: vectorFromArray(
          ids.map((id) => [id, -id]),
          new List(new Field('item', new Float64(), true)),
        ),
      });
      await writeFile(join(spark, file), parquetFile(table, { compression: 'snappy', rowGroupRows: 2 }));
      await writeFile(join(spark, `.${file}.crc`), 'crc');
    }
    await writeFile(join(spark, '_SUCCESS'), '');
    await writeFile(join(spark, '._SUCCESS.crc'), 'crc');
    const lines = await start(dir);

    // `cp -r` of the finished output: the marker is there from the start, copied in any order.
    await cp(spark, join(dir, 'inbox', 'events'), { recursive: true });

    const [job, summary] = await waitFor(async () => {
      const found = Object.entries(await summaries(dir));
      return found.length > 0 ? found[0] : undefined;
    });
    expect(lines).toContain('inbox: inbox/events/_SUCCESS queued');
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 5, out: 5, errors: 0 } });
    const results = join(dir, 'results', job);
    expect((await filesBelow(results)).filter((file) => file.endsWith('.out'))).toEqual(
      parts.map(({ file }) => `${file}.out`),
    );
    for (const { file, ids } of parts) {
      expect(await readFile(join(results, `${file}.out`), 'utf8')).toBe(
        ids.map((id) => `{"id":${id},"SageMakerOutput":[${2 * id}.0,${-2 * id}.0]}\n`).join(''),
      );
    }
    expect(await service?.stack.executions.list()).toHaveLength(1);
  });
});
