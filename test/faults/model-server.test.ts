import './support/quiet.ts';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, type Invocation, ScriptedContainer } from './support/container.ts';
import { leftovers, lines, NOTHING_LEFT, openFiles, pipeline, settled } from './support/harness.ts';

// `pipeline run` against a model container that misbehaves on cue: a real HTTP server in this process,
// given with --model-url as users give TensorFlow Serving. Every other part is the real one: the state
// machine file, the step functions, the local SageMaker's transform data plane and a data dir.

let container: ScriptedContainer;
let dir = '';

beforeAll(async () => {
  container = await ScriptedContainer.start();
  dir = await mkdtemp(join(tmpdir(), 'faults-model-'));
});

afterAll(async () => {
  await container.close();
});

beforeEach(async () => {
  container.script = () => 'ok';
  container.invocations.splice(0);
  container.maxInFlight = 0;
  if (!container.listening) await container.listen();
});

/** Record k of an input: `{"id": k, "features": [k, 0.5]}`; the container answers [2k, 1]. */
function records(count: number, width = 2): string {
  const tail = Array.from({ length: width - 1 }, (_, j) => 0.5 + j).join(',');
  return Array.from({ length: count }, (_, k) => `{"id":${k + 1},"features":[${k + 1},${tail}]}\n`).join('');
}

/** The first number of the request's first instance: the record it starts with. */
function firstRecord(invocation: Invocation): number {
  const [instance] = invocation.instances as number[][];
  return instance?.[0] ?? 0;
}

/** Scores `<name>.jsonl` with the job spec, through the container, in a data dir of its own. */
async function score(name: string, input: string, spec: Record<string, unknown>) {
  const file = join(dir, `${name}.jsonl`);
  await writeFile(file, input);
  const job = join(dir, `${name}.job.json`);
  await writeFile(
    job,
    JSON.stringify({ model: 'served-elsewhere', dataProcessing: { inputFilter: '$.features' }, ...spec }),
  );
  const dataDir = join(dir, name);
  const run = await pipeline(
    'run',
    file,
    '--job',
    job,
    '--model-url',
    container.url,
    '--data-dir',
    dataDir,
    '--json',
  );
  const results = join(dataDir, 'results', run.report?.jobId ?? '');
  return { ...run, dataDir, results, output: join(results, `${name}.jsonl.out`) };
}

const expected = (count: number) => Array.from({ length: count }, (_, k) => `[${2 * (k + 1)},1]`);

describe('a model server that answers 5xx', () => {
  it('has the request retried as ModelClientConfig says, and every record scored once', async () => {
    // Prepare: record 7's request fails twice, then succeeds.
    let failures = 0;
    container.script = (invocation) => {
      if (firstRecord(invocation) !== 7 || failures === 2) return 'ok';
      failures++;
      return { status: 503, body: '{"error": "model busy"}' };
    };
    // Act
    const run = await score('busy', records(12), {
      batchStrategy: 'SingleRecord',
      maxConcurrentTransforms: 2,
      modelClientConfig: { invocationsTimeoutInSeconds: 30, invocationsMaxRetries: 3 },
    });
    // Assess
    expect(run.code).toBe(0);
    expect(run.report).toMatchObject({ status: 'Succeeded', records: { in: 12, out: 12, errors: 0 } });
    expect(await lines(run.output)).toEqual(expected(12));
    expect(container.invocations.filter((i) => firstRecord(i) === 7)).toHaveLength(3);
    expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
  });

  it('fails the job naming the file and the batch once the retries are spent, leaving nothing', async () => {
    container.script = (invocation) =>
      firstRecord(invocation) === 7 ? { status: 500, body: '{"error": "model exploded"}' } : 'ok';
    const run = await score('broken', records(12), {
      batchStrategy: 'SingleRecord',
      modelClientConfig: { invocationsTimeoutInSeconds: 30, invocationsMaxRetries: 2 },
    });
    expect(run.code).toBe(1);
    expect(run.report).toMatchObject({ status: 'Failed', error: { name: 'States.TaskFailed' } });
    const message = run.report && 'error' in run.report ? run.report.error.message : '';
    expect(message).toMatch(
      /^ClientError: s3:\/\/local\/work\/.*\/shards\/0\/0\.jsonl: request for records 7-7 failed: 500 \{"error": "model exploded"\} \(after 3 attempts\)$/,
    );
    expect(run.stderr).toContain('(shard 0 of broken.jsonl)');
    expect(container.invocations.filter((i) => firstRecord(i) === 7)).toHaveLength(3);
    expect(await readdir(run.results)).toEqual(['_job.json']);
    expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('a model server that does not answer in time', () => {
  it('has the request cut at InvocationsTimeoutInSeconds and sent again', async () => {
    let hung = false;
    container.script = (invocation) => {
      if (firstRecord(invocation) !== 3 || hung) return 'ok';
      hung = true;
      return 'hang';
    };
    const run = await score('slow', records(6), {
      batchStrategy: 'SingleRecord',
      modelClientConfig: { invocationsTimeoutInSeconds: 1, invocationsMaxRetries: 1 },
    });
    expect(run.code).toBe(0);
    expect(await lines(run.output)).toEqual(expected(6));
    const attempts = container.invocations.filter((i) => firstRecord(i) === 3);
    expect(attempts.map((i) => i.answered)).toEqual([false, true]);
    expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('a model server that crashes', () => {
  it('is ridden out when it comes back: the requests it dropped are sent again, none twice in the output', async () => {
    let crashed = false;
    container.script = (invocation): Answer => {
      if (firstRecord(invocation) !== 10 || crashed) return 'ok';
      crashed = true;
      return 'crash';
    };
    const run = await score('crash', records(40), {
      batchStrategy: 'SingleRecord',
      maxConcurrentTransforms: 4,
      modelClientConfig: { invocationsTimeoutInSeconds: 30, invocationsMaxRetries: 3 },
    });
    expect(run.code).toBe(0);
    expect(container.crashes).toBeGreaterThanOrEqual(1);
    // Requests were in flight when it went down: more requests than records, but one line per record.
    expect(container.invocations.length).toBeGreaterThan(40);
    expect(run.report).toMatchObject({ records: { in: 40, out: 40, errors: 0 } });
    expect(await lines(run.output)).toEqual(expected(40));
    expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
  });

  it('fails the job naming the file when it stays down', async () => {
    container.script = (invocation) => (firstRecord(invocation) === 5 ? 'die' : 'ok');
    const run = await score('dead', records(8), {
      batchStrategy: 'SingleRecord',
      maxConcurrentTransforms: 1,
      modelClientConfig: { invocationsTimeoutInSeconds: 30, invocationsMaxRetries: 2 },
    });
    expect(run.code).toBe(1);
    const message = run.report && 'error' in run.report ? run.report.error.message : '';
    expect(message).toMatch(/request for records 5-5 failed: connect ECONNREFUSED .* \(after 3 attempts\)$/);
    expect(run.stderr).toContain('(shard 0 of dead.jsonl)');
    expect(await readdir(run.results)).toEqual(['_job.json']);
    expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('a response with the wrong number of predictions', () => {
  // About 3.3 MB of instances: several shards, each of several requests, so that Merge has written
  // part of the output when it reaches the response that does not add up.
  const input = records(40_000, 20);
  const spec = { shardSizeInMB: 1, maxPayloadInMB: 1 };

  it.each([
    ['short', 'one short', (right: unknown[]) => right.slice(1), /: \d+ outputs for \d+ records$/],
    [
      'long',
      'one too many',
      (right: unknown[]) => [...right, right[0]],
      /: more outputs than its \d+ records/,
    ],
  ])(
    '%s (%s) is found by the merge: the job fails and no output appears, nor any of it',
    async (name, _, predictions, reason) => {
      // The first request from record 20,000 on, in a shard after the first.
      let faulted = false;
      container.script = (invocation) => {
        if (faulted || firstRecord(invocation) < 20_000) return 'ok';
        faulted = true;
        return { predictions };
      };
      const before = openFiles();
      const run = await score(name, input, spec);
      expect(run.code).toBe(1);
      expect(run.report).toMatchObject({ status: 'Failed', error: { name: 'PredictionCountError' } });
      const message = run.report && 'error' in run.report ? run.report.error.message : '';
      expect(message).toMatch(new RegExp(`^shard [1-9]\\d* of ${name}\\.jsonl${reason.source}`));
      expect(await readdir(run.results)).toEqual(['_job.json']);
      expect(await leftovers(run.dataDir)).toEqual(NOTHING_LEFT);
      await settled(() => openFiles() <= before);
      expect(openFiles()).toBeLessThanOrEqual(before);
    },
  );
});
