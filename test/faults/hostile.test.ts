import './support/quiet.ts';
import { lstat, mkdir, mkdtemp, open, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedExecution } from '../../src/adapters/local-executions.ts';
import { encodeExample } from '../../src/core/records/example.ts';
import { encodeTfRecords, maskedCrc32c } from '../../src/core/records/tfrecord.ts';
import { RAW_KEEP_BYTES } from '../../src/core/records/types.ts';
import type { JobSummary } from '../../src/core/steps/finish.ts';
import { sign } from '../../src/core/triggers/webhook.ts';
import { type LocalService, startLocalService } from '../../src/local/service.ts';
import {
  doublingModel,
  entriesBelow,
  leftovers,
  lines,
  NOTHING_LEFT,
  pipeline,
  waitFor,
} from './support/harness.ts';

// Input meant to hurt, end to end: through `pipeline run` in this process, and through the inbox and
// the webhook of the local service. The model is a real one on the local model server, doubling each
// row [x, y]; TensorFlow Serving writes its numbers as 2.0, not 2.

/** A single line this many bytes long (2 GiB by default; PIPELINE_FAULTS_LINE_BYTES to change it). */
const LINE_BYTES = Number(process.env.PIPELINE_FAULTS_LINE_BYTES ?? 2 ** 31);
const MB = 1024 * 1024;

let dir = '';
let model = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faults-hostile-'));
  model = await doublingModel(join(dir, 'models', 'double'));
});

/** `pipeline run <file> --job <spec>` in a data dir of its own, with its report and results. */
async function run(file: string, spec: Record<string, unknown>) {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const job = join(dir, `${name}.job.json`);
  await writeFile(job, JSON.stringify({ model, ...spec }));
  const dataDir = join(dir, `data-${name}`);
  const result = await pipeline('run', file, '--job', job, '--data-dir', dataDir, '--json');
  const results = join(dataDir, 'results', result.report?.jobId ?? '');
  return { ...result, dataDir, results, output: join(results, `${name}.out`) };
}

async function input(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function errorRows(results: string): Promise<Record<string, unknown>[]> {
  return (await lines(join(results, '_errors.jsonl'))).map(
    (line) => JSON.parse(line) as Record<string, unknown>,
  );
}

const filter = { dataProcessing: { inputFilter: '$.features' } };
const OUTSIDE_MARKER = '77777777';

describe('keys that try to leave the data folder', () => {
  const secret = 'a-local-webhook-secret';
  let service: LocalService;
  let dataDir = '';
  let outside = '';

  beforeAll(async () => {
    dataDir = join(dir, 'service');
    outside = join(dir, 'outside');
    await mkdir(join(dataDir, 'inbox'), { recursive: true });
    await mkdir(join(dataDir, 'config'), { recursive: true });
    await mkdir(outside, { recursive: true });
    // Scorable, so that if it were ever read its numbers would show up in the results. Eight digits:
    // a timestamp's milliseconds or a pid can hold a shorter run by chance.
    await writeFile(join(outside, 'secret.jsonl'), `{"features":[${OUTSIDE_MARKER},${OUTSIDE_MARKER}]}\n`);
    await writeFile(join(dataDir, 'config', 'default-job.json'), JSON.stringify({ model, ...filter }));
    service = await startLocalService({
      dataDir,
      port: 0,
      secret,
      pollMs: 50,
      settleMs: 100,
      sidecarSeconds: 0,
    });
  });

  afterAll(async () => {
    await service.close();
  });

  function post(body: unknown): Promise<Response> {
    const text = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    return fetch(`${service.url}/runs`, {
      method: 'POST',
      body: text,
      headers: {
        'content-type': 'application/json',
        'x-pipeline-timestamp': timestamp,
        'x-pipeline-signature': sign(secret, timestamp, text),
      },
    });
  }

  function ended(name: string): Promise<QueuedExecution> {
    return waitFor(`execution ${name}`, async () => {
      const execution = await service.stack.executions.get(name);
      return execution?.status !== undefined && execution.status !== 'RUNNING' ? execution : undefined;
    });
  }

  it('refuses webhook inputs with .. or . parts, starting nothing', async () => {
    for (const key of [
      '../outside/secret.jsonl',
      's3://local/inbox/../../outside/secret.jsonl',
      'inbox/./a',
    ]) {
      const response = await post({ inputs: [key] });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ field: 'inputs' });
    }
    expect(await service.stack.executions.list()).toEqual([]);
  });

  it('never follows a symbolic link out of it, from the inbox or from the webhook', async () => {
    await symlink(join(outside, 'secret.jsonl'), join(dataDir, 'inbox', 'link.jsonl'));
    await symlink(outside, join(dataDir, 'inbox', 'elsewhere'));
    // A file whose name is all dots but for its extension is only a name: it is scored, inside.
    await writeFile(join(dataDir, 'inbox', '..dots...jsonl'), '{"features":[1,2]}\n');

    const dotted = await waitFor('the inbox job', async () => (await service.stack.executions.list())[0]);
    expect(await ended(dotted.name)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lines(join(dataDir, 'results', dotted.name, '..dots...jsonl.out'))).toEqual(['[2.0,4.0]']);
    // The watcher saw the links with the file, and started nothing for them.
    expect((await service.stack.executions.list()).map((e) => e.name)).toEqual([dotted.name]);

    for (const key of ['inbox/link.jsonl', 's3://local/inbox/elsewhere/secret.jsonl']) {
      const response = await post({ inputs: [key] });
      expect(response.status).toBe(202);
      const { jobId } = (await response.json()) as { jobId: string };
      const execution = await ended(jobId);
      expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InvalidKeyError' } });
      expect(execution.error?.message).toMatch(/^key "inbox\/.*" leaves the store through a symbolic link$/);
    }
    for (const entry of await entriesBelow(dataDir)) {
      const path = join(dataDir, entry);
      if ((await lstat(path)).isFile()) expect(await readFile(path, 'utf8')).not.toContain(OUTSIDE_MARKER);
    }
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
  });

  it('refuses a webhook job with an absurd field with 400, naming the field, queuing nothing', async () => {
    // Outside the inbox: a file dropped there starts a job of its own, which would race the count.
    await mkdir(join(dataDir, 'uploads'), { recursive: true });
    await writeFile(join(dataDir, 'uploads', 'absurd.jsonl'), '{"features":[1,2]}\n');
    const queued = async () => (await readdir(join(dataDir, 'executions')).catch(() => [])).length;
    const before = await queued();
    const response = await post({ inputs: ['uploads/absurd.jsonl'], job: { maxConcurrentTransforms: 1e9 } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      field: 'job.maxConcurrentTransforms',
      error: expect.stringMatching(/^job\.maxConcurrentTransforms: /),
    });
    expect(await queued()).toBe(before);
  });

  it('fails a webhook job whose fields break a rule together at Plan, naming the field, creating nothing', async () => {
    // Each field is valid on its own; only merged with the defaults (4 concurrent transforms) do they
    // ask for more than SageMaker's 100 MB in flight, which the webhook cannot know alone.
    // Outside the inbox, so that no inbox job of its own runs beside the webhook's.
    await mkdir(join(dataDir, 'uploads'), { recursive: true });
    await writeFile(join(dataDir, 'uploads', 'plain.jsonl'), '{"features":[1,2]}\n');
    const response = await post({ inputs: ['uploads/plain.jsonl'], job: { maxPayloadInMB: 60 } });
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const execution = await ended(jobId);
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'JobSpecError' } });
    expect(execution.error?.message).toMatch(/^maxPayloadInMB: maxPayloadInMB × maxConcurrentTransforms/);
    expect(await readdir(join(dataDir, 'results'))).not.toContain(jobId);
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('absurd sizes', () => {
  it.each([
    ['maxPayloadInMB', { maxPayloadInMB: 1e9 }],
    ['maxPayloadInMB', { maxPayloadInMB: -1 }],
    ['maxConcurrentTransforms', { maxConcurrentTransforms: 1e6 }],
    ['instanceCount', { instanceCount: 1e9 }],
    ['shardSizeInMB', { shardSizeInMB: 1e12 }],
    [
      'modelClientConfig.invocationsTimeoutInSeconds',
      { modelClientConfig: { invocationsTimeoutInSeconds: 1e9 } },
    ],
    ['maxErrorPercent', { maxErrorPercent: 1e3 }],
  ])('refuses %s out of range before anything runs', async (field, spec) => {
    const file = await input('small.jsonl', '{"features":[1,2]}\n');
    const job = join(dir, 'absurd.job.json');
    await writeFile(job, JSON.stringify({ model, ...spec }));
    const dataDir = join(dir, 'data-absurd');
    const result = await pipeline('run', file, '--job', job, '--data-dir', dataDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`job spec ${field}: `);
    expect(await stat(dataDir).catch(() => undefined)).toBeUndefined();
  });
});

describe(`a single line of ${LINE_BYTES.toLocaleString('en-US')} bytes`, () => {
  let file = '';

  beforeAll(async () => {
    // Sparse: the file takes no room, and no test process ever holds it.
    file = join(dir, 'huge.jsonl');
    const first = Buffer.from('{"id":1,"features":[1,2]}\n');
    const handle = await open(file, 'w');
    await handle.write(first);
    await handle.truncate(first.length + LINE_BYTES);
    await handle.write('\n{"id":3,"features":[3,4]}\n', first.length + LINE_BYTES);
    await handle.close();
  });

  it.each([
    ['the record limit (maxPayloadInMB)', {}, 6 * MB],
    [
      '100 MB, when maxPayloadInMB 0 lifts the limit',
      { batchStrategy: 'SingleRecord', maxPayloadInMB: 0 },
      100 * MB,
    ],
  ])('is quarantined at %s, its neighbours scored, in bounded memory', async (_, spec, limit) => {
    let peak = 0;
    const before = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    const result = await run(file, {
      ...spec,
      maxErrorPercent: 50,
      dataProcessing: {
        inputFilter: '$.features',
        joinSource: 'Input',
        outputFilter: "$['id','SageMakerOutput']",
      },
    }).finally(() => clearInterval(sampler));
    expect(result.code).toBe(0);
    expect(result.report).toMatchObject({ status: 'Succeeded', records: { in: 3, out: 2, errors: 1 } });
    expect(await lines(result.output)).toEqual([
      '{"id":1,"SageMakerOutput":[2.0,4.0]}',
      '{"id":3,"SageMakerOutput":[6.0,8.0]}',
    ]);
    const [row, ...others] = await errorRows(result.results);
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      input: 'huge.jsonl',
      record: 2,
      line: 2,
      reason: `record is ${LINE_BYTES} bytes, over the request limit of ${limit} bytes (maxPayloadInMB)`,
      size: LINE_BYTES,
    });
    expect(String(row?.raw).length).toBeLessThanOrEqual(RAW_KEEP_BYTES);
    // Read twice (Shard, and Merge for the join), never held: far less than the line itself.
    expect(peak - before).toBeLessThan(400 * MB);
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('binary garbage as JSON Lines', () => {
  it('is quarantined line by line, the good lines around it scored, and every record accounted for', async () => {
    let seed = 42;
    const garbage = Buffer.alloc(256 * 1024);
    for (let k = 0; k < garbage.length; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      garbage[k] = seed >>> 24;
    }
    const good = (from: number) =>
      [from, from + 1, from + 2].map((k) => `{"features":[${k},0.5]}\n`).join('');
    const file = await input(
      'garbage.jsonl',
      Buffer.concat([Buffer.from(good(1)), garbage, Buffer.from(`\n${good(4)}`)]),
    );

    const result = await run(file, filter);

    expect(result.code).toBe(1);
    const summary = result.report as JobSummary;
    expect(summary.status).toBe('Failed');
    expect(summary.reason).toMatch(/could not be scored, over maxErrorPercent 5$/);
    expect(summary.records.out).toBe(6);
    expect(summary.records.errors).toBeGreaterThan(100);
    expect(summary.records.in).toBe(summary.records.out + summary.records.errors);
    expect(await lines(result.output)).toEqual([1, 2, 3, 4, 5, 6].map((k) => `[${2 * k}.0,1.0]`));
    const rows = await errorRows(result.results);
    expect(rows).toHaveLength(summary.records.errors);
    for (const row of rows) {
      expect(row).toMatchObject({
        input: 'garbage.jsonl',
        record: expect.any(Number),
        reason: expect.any(String),
      });
    }
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('TFRecord framing that lies', () => {
  const examples = encodeTfRecords([
    encodeExample({ features: { floats: [1, 2] } }),
    encodeExample({ features: { floats: [3, 4] } }),
  ]);
  const tfrecord = { contentType: 'application/x-tfrecord', splitType: 'TFRecord', ...filter };

  it('quarantines a record whose length claims a terabyte without trying to read it', async () => {
    const header = Buffer.alloc(12);
    header.writeBigUInt64LE(1n << 40n);
    header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
    const file = await input('terabyte.tfrecord', Buffer.concat([examples, header, Buffer.alloc(4096, 7)]));
    const result = await run(file, { ...tfrecord, maxErrorPercent: 50 });
    expect(result.code).toBe(0);
    expect(result.report).toMatchObject({ records: { in: 3, out: 2, errors: 1 } });
    expect(await lines(result.output)).toEqual(['[2.0,4.0]', '[6.0,8.0]']);
    const [row] = await errorRows(result.results);
    expect(row).toMatchObject({ record: 3, offset: examples.length });
    expect(row?.reason).toMatch(/record is 1099511627776 bytes, over the request limit of 6291456 bytes/);
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });

  it('fails the job naming the file and the byte where a length checksum breaks, leaving nothing', async () => {
    const broken = Buffer.from(examples);
    // The third byte of the second record's length.
    const second = broken.length / 2;
    broken[second + 2] = 0xff;
    const file = await input('broken.tfrecord', broken);
    const result = await run(file, tfrecord);
    expect(result.code).toBe(1);
    expect(result.report).toMatchObject({
      status: 'Failed',
      error: {
        name: 'FramingError',
        message: `broken.tfrecord: TFRecord length CRC mismatch in record 2 at byte ${second}`,
      },
    });
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('deeply nested JSON', () => {
  const deep = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

  it('is passed over where the input filter does not look', async () => {
    const file = await input(
      'nested-aside.jsonl',
      `{"meta":${deep(500_000)},"features":[1,2]}\n{"features":[3,4],"meta":{"a":${deep(100_000)}}}\n`,
    );
    const result = await run(file, filter);
    expect(result.code).toBe(0);
    expect(await lines(result.output)).toEqual(['[2.0,4.0]', '[6.0,8.0]']);
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });

  it('fails the job naming the batch when it is what the model gets, as TFS refuses it', async () => {
    const file = await input('nested-inside.jsonl', `{"features":${deep(100_000)}}\n{"features":[3,4]}\n`);
    const result = await run(file, filter);
    expect(result.code).toBe(1);
    expect(result.report).toMatchObject({ status: 'Failed', error: { name: 'States.TaskFailed' } });
    const message = result.report && 'error' in result.report ? result.report.error.message : '';
    expect(message).toMatch(/: request for records 1-2 failed: 400 /);
    expect(result.stderr).toContain('(shard 0 of nested-inside.jsonl)');
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });
});

describe('filters that match nothing', () => {
  it('quarantines every output an output filter finds nothing in, with its reason', async () => {
    const file = await input('unmatched-output.jsonl', '{"features":[1,2]}\n{"features":[3,4]}\n');
    const result = await run(file, {
      dataProcessing: { inputFilter: '$.features', outputFilter: '$.nothing' },
    });
    expect(result.code).toBe(1);
    expect(result.report).toMatchObject({ status: 'Failed', records: { in: 2, out: 0, errors: 2 } });
    expect(await errorRows(result.results)).toMatchObject([
      { record: 1, reason: expect.stringMatching(/^outputFilter /) },
      { record: 2, reason: expect.stringMatching(/^outputFilter /) },
    ]);
    expect(await lines(result.output)).toEqual([]);
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });

  it('quarantines every record an input filter finds nothing in; with nothing to score, no model is made', async () => {
    const file = await input('unmatched-input.jsonl', '{"a":1}\n{"a":2}\n');
    const result = await run(file, { dataProcessing: { inputFilter: '$.features' } });
    expect(result.code).toBe(1);
    expect(result.report).toMatchObject({ status: 'Failed', records: { in: 2, out: 0, errors: 2 } });
    expect(await errorRows(result.results)).toMatchObject([
      { record: 1, line: 1, reason: "$.features: no member 'features'" },
      { record: 2, line: 2, reason: "$.features: no member 'features'" },
    ]);
    expect(await lines(result.output)).toEqual([]);
    expect(await leftovers(result.dataDir)).toEqual(NOTHING_LEFT);
  });
});
