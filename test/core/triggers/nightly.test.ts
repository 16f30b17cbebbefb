import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { writeText } from '../../../src/core/ports/object-store.ts';
import { startNightly } from '../../../src/core/triggers/nightly.ts';
import { NamedExecutions } from '../../support/executions.ts';

let store: LocalObjectStore;
let executions: NamedExecutions;
const datasets = [
  { name: 'iris', prefix: 'datasets/iris/', job: { instanceCount: 2 } },
  { name: 'empty', prefix: 'datasets/empty/' },
];

beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-nightly-')));
  executions = new NamedExecutions();
  await writeText(store, 'datasets/iris/a.jsonl', '{}\n');
  await writeText(store, 'datasets/iris/b.jsonl', '{}\n');
  await writeText(store, 'datasets/iris/b.jsonl.job.json', '{}');
});

describe('startNightly', () => {
  it('scores a folder of Parquet part files as Spark writes it as one job, leaving out its markers and checksums', async () => {
    const table = 'datasets/events/day=2026-11-21/';
    for (const file of ['part-00000-a.snappy.parquet', 'part-00001-a.snappy.parquet']) {
      await writeText(store, `${table}${file}`, 'PAR1');
      await writeText(store, `${table}.${file}.crc`, 'crc');
    }
    await writeText(store, `${table}_SUCCESS`, '{"committer":"magic"}');
    await writeText(store, 'datasets/events/_temporary/.hidden/part-9.parquet', 'PAR1');

    const result = await startNightly(
      [{ name: 'events', prefix: 'datasets/events/' }],
      store,
      executions,
      new Date('2026-11-22T02:00:00Z'),
    );

    expect(result.started).toMatchObject([{ dataset: 'events', inputs: 2 }]);
    expect(executions.byName.get('nightly-events-2026-11-22')).toEqual({ inputs: ['datasets/events/'] });
  });

  it('starts a dataset of thousands of objects with its folder as the one input, well within the 256 KB an execution input may hold', async () => {
    const names = Array.from(
      { length: 3000 },
      (_, k) => `datasets/big/part-${String(k).padStart(5, '0')}.jsonl`,
    );
    for (const name of names) await writeText(store, name, '{"features":[1,2]}\n');

    const result = await startNightly(
      [{ name: 'big', prefix: 'datasets/big/', job: { instanceCount: 2 } }],
      store,
      executions,
      new Date('2026-11-22T02:00:00Z'),
    );

    expect(result.started).toMatchObject([{ dataset: 'big', inputs: 3000 }]);
    const input = executions.byName.get('nightly-big-2026-11-22');
    expect(input).toEqual({ inputs: ['datasets/big/'], job: { instanceCount: 2 } });
    expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(256 * 1024);
  });

  it('starts one execution per dataset per day, even when the schedule fires twice', async () => {
    const night = new Date('2026-11-22T02:00:00Z');
    const first = await startNightly(datasets, store, executions, night);
    const second = await startNightly(datasets, store, executions, new Date('2026-11-22T02:00:05Z'));
    expect([...executions.byName.entries()]).toEqual([
      ['nightly-iris-2026-11-22', { inputs: ['datasets/iris/'], job: { instanceCount: 2 } }],
    ]);
    expect(first.started).toMatchObject([{ dataset: 'iris', inputs: 2 }]);
    expect(first.skipped).toEqual([{ dataset: 'empty', reason: 'no objects under datasets/empty/' }]);
    expect(second.skipped).toContainEqual({
      dataset: 'iris',
      reason: 'no new objects since the run of 2026-11-22',
    });
  });

  it('skips a dataset with nothing new since the last night, and scores it again once something arrives', async () => {
    await startNightly(datasets, store, executions, new Date('2026-11-22T02:00:00Z'));
    const quiet = await startNightly(datasets, store, executions, new Date('2026-11-23T02:00:00Z'));
    expect(quiet.started).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeText(store, 'datasets/iris/c.jsonl', '{}\n');
    const busy = await startNightly(datasets, store, executions, new Date('2026-11-24T02:00:00Z'));
    expect(busy.started).toEqual([
      {
        dataset: 'iris',
        executionArn: 'arn:aws:states:eu-west-1:1:execution:p:nightly-iris-2026-11-24',
        inputs: 3,
      },
    ]);
  });
});
