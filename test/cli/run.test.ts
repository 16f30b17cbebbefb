import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Field,
  Float64,
  Int64,
  List,
  Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeExample } from '../../src/core/records/example.ts';
import { encodeTfRecords } from '../../src/core/records/tfrecord.ts';
import type { JobSummary } from '../../src/core/steps/finish.ts';
import { pipeline as runCli } from '../support/cli.ts';
import { scalingModel } from '../support/models.ts';
import { int64Vector, parquetFile } from '../support/parquet.ts';

// `pipeline run` end to end: the state machine file through the ASL interpreter, the step functions'
// handlers over a local folder, the local SageMaker's transform data plane, and the model server with
// onnxruntime over real sockets. The models are small networks whose answers can be worked out by hand;
// numbers come back as TensorFlow Serving writes them (2.0, not 2).

const root = fileURLToPath(new URL('../../', import.meta.url));

async function pipeline(...args: string[]) {
  const result = await runCli(...args);
  return { ...result, summary: result.report as JobSummary | undefined };
}

let dir = '';
let model = '';

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function job(name: string, spec: Record<string, unknown>): Promise<string> {
  return file(name, JSON.stringify({ model, ...spec }));
}

async function results(out: string, name: string): Promise<string[]> {
  return (await readFile(join(out, name), 'utf8')).split('\n').filter((line) => line.length > 0);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-run-'));
  // Versions 1 and 2 in one folder: version 2 serves, so every answer is doubled.
  model = join(dir, 'models', 'scale');
  for (const version of [1, 2]) await scalingModel(model, version, version);
});

describe('pipeline run', () => {
  it('scores JSON Lines with the highest model version, joins the input and applies the output filter', async () => {
    const input = await file(
      'people.jsonl',
      '{"id":1,"features":[1,2],"note":"a"}\n{"id":2,"features":[3,-4]}\n',
    );
    const spec = await job('join.job.json', {
      dataProcessing: {
        inputFilter: '$.features',
        joinSource: 'Input',
        outputFilter: "$['id','SageMakerOutput']",
      },
    });
    const out = join(dir, 'out-join');
    const { code, summary, stderr } = await pipeline('run', input, '--job', spec, '--out', out, '--json');
    expect(stderr).toContain('Succeeded: 2 records in, 2 scored, 0 quarantined');
    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 2, out: 2, errors: 0 } });
    expect(await results(out, 'people.jsonl.out')).toEqual([
      '{"id":1,"SageMakerOutput":[2.0,4.0]}',
      '{"id":2,"SageMakerOutput":[6.0,-8.0]}',
    ]);
    expect(JSON.parse(await readFile(join(out, '_summary.json'), 'utf8'))).toMatchObject({
      inputs: [{ records: 2, errors: 0 }],
    });
  });

  it('scores a job of few records on a serverless endpoint, with the same results as a transform job', async () => {
    const input = await file('few.jsonl', '{"id":1,"features":[1,2]}\n{"id":2,"features":[3,-4]}\n');
    const base = { dataProcessing: { inputFilter: '$.features', joinSource: 'Input' } };
    const onEndpoint = join(dir, 'out-endpoint');
    const endpoint = await pipeline(
      'run',
      input,
      '--job',
      await job('few.job.json', { ...base, endpointMaxRecords: 3 }),
      '--out',
      onEndpoint,
    );
    expect(endpoint.code).toBe(0);
    expect(endpoint.stderr).toContain('ScoreOnEndpoint');
    expect(endpoint.stderr).not.toContain('Transform');
    const byTransform = join(dir, 'out-few-transform');
    const transform = await pipeline(
      'run',
      input,
      '--job',
      await job('few-t.job.json', base),
      '--out',
      byTransform,
    );
    expect(transform.code).toBe(0);
    expect(await results(onEndpoint, 'few.jsonl.out')).toEqual(await results(byTransform, 'few.jsonl.out'));
    expect(await results(onEndpoint, 'few.jsonl.out')).toEqual([
      '{"id":1,"features":[1,2],"SageMakerOutput":[2.0,4.0]}',
      '{"id":2,"features":[3,-4],"SageMakerOutput":[6.0,-8.0]}',
    ]);
  });

  it('scores CSV rows, and appends the prediction as columns when joining', async () => {
    const input = await file('rows.csv', '1,2\n0.5,-1\n');
    const out = join(dir, 'out-csv');
    const plain = await pipeline(
      'run',
      input,
      '--model',
      model,
      '--job',
      await job('csv.job.json', { contentType: 'text/csv' }),
      '--out',
      out,
    );
    expect(plain.code).toBe(0);
    expect(await results(out, 'rows.csv.out')).toEqual(['[2.0,4.0]', '[1.0,-2.0]']);
    const joined = join(dir, 'out-csv-join');
    const spec = await job('csv-join.job.json', {
      contentType: 'text/csv',
      dataProcessing: { joinSource: 'Input' },
    });
    expect((await pipeline('run', input, '--job', spec, '--out', joined)).code).toBe(0);
    // The row as written, then the prediction's values as the model server wrote them.
    expect(await results(joined, 'rows.csv.out')).toEqual(['1,2,2.0,4.0', '0.5,-1,1.0,-2.0']);
  });

  it('reads TFRecord files of tf.Example through an input filter', async () => {
    const examples = [
      encodeExample({ features: { floats: [1, 2] }, id: { ints: [7] } }),
      encodeExample({ features: { floats: [0.25, 3] }, id: { ints: [8] } }),
    ];
    const input = await file('examples.tfrecord', encodeTfRecords(examples));
    const spec = await job('tfrecord.job.json', {
      contentType: 'application/x-tfrecord',
      splitType: 'TFRecord',
      dataProcessing: { inputFilter: '$.features' },
    });
    const out = join(dir, 'out-tfrecord');
    expect((await pipeline('run', input, '--job', spec, '--out', out)).code).toBe(0);
    expect(await results(out, 'examples.tfrecord.out')).toEqual(['[2.0,4.0]', '[0.5,6.0]']);
  });

  it('scores a Parquet file: filtered, joined with every column of its rows, output filtered, in row order', async () => {
    const people = new Table({
      id: int64Vector(new Int64(), [9007199254740993n, 2n, 3n]),
      features: vectorFromArray([[1, 2], null, [3, -4]], new List(new Field('item', new Float64(), true))),
      seen: int64Vector(new TimestampMicrosecond('UTC'), [1706704496123456n, 0n, null]),
      note: vectorFromArray(['a', 'b', null], new Utf8()),
    });
    const input = await file('people.parquet', parquetFile(people, { rowGroupRows: 2 }));
    const spec = await job('parquet.job.json', {
      maxErrorPercent: 50,
      dataProcessing: {
        inputFilter: '$.features[0:2]',
        joinSource: 'Input',
        outputFilter: "$['id','seen','SageMakerOutput']",
      },
    });
    const out = join(dir, 'out-parquet');

    const { code, summary } = await pipeline('run', input, '--job', spec, '--out', out, '--json');

    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: 'Succeeded', records: { in: 3, out: 2, errors: 1 } });
    // The model doubles each feature; the int64 id beyond 2^53 and the microseconds come back exact.
    expect(await results(out, 'people.parquet.out')).toEqual([
      '{"id":9007199254740993,"seen":"2024-01-31T12:34:56.123456Z","SageMakerOutput":[2.0,4.0]}',
      '{"id":3,"seen":null,"SageMakerOutput":[6.0,-8.0]}',
    ]);
    const [error] = (await results(out, '_errors.jsonl')).map((line) => JSON.parse(line));
    expect(error).toMatchObject({
      input: 'people.parquet',
      record: 2,
      rowGroup: 0,
      reason: expect.stringContaining('not an array'),
      raw: '{"features":null}',
    });
  });

  it('fails a job whose Parquet input is damaged, naming the file and the row group', async () => {
    const ids = vectorFromArray(
      Array.from({ length: 20 }, (_, k) => [k, k + 1]),
      new List(new Field('item', new Float64(), true)),
    );
    const bytes = parquetFile(new Table({ features: ids }), { rowGroupRows: 10, dictionary: false });
    const page = Number(parquetMetadata(bytes).row_groups[1]?.columns[0]?.meta_data?.data_page_offset);
    const input = await file('damaged.parquet', Buffer.from(bytes).fill(0xff, page, page + 24));
    const spec = await job('damaged.job.json', { dataProcessing: { inputFilter: '$.features' } });

    const { code, stderr } = await pipeline('run', input, '--job', spec, '--out', join(dir, 'out-damaged'));

    expect(code).toBe(1);
    expect(stderr).toMatch(/ParquetReadError: damaged\.parquet: row group 1 cannot be read \(rows 11-20\)/);
  });

  it('scores a Parquet file split by row groups over several Shard invocations as it scores it whole', async () => {
    const features = vectorFromArray(
      Array.from({ length: 20 }, (_, k) => [k, -k]),
      new List(new Field('item', new Float64(), true)),
    );
    const input = await file('split.parquet', parquetFile(new Table({ features }), { rowGroupRows: 5 }));
    const spec = await job('split.job.json', { dataProcessing: { inputFilter: '$.features' } });
    const whole = await pipeline('run', input, '--job', spec, '--out', join(dir, 'out-whole'));
    expect(whole.code).toBe(0);
    // A bound of one byte: each of the 4 row groups is a part, read by a Shard invocation of its own.
    process.env.PIPELINE_PARQUET_PART_BYTES = '1';
    try {
      const split = await pipeline('run', input, '--job', spec, '--out', join(dir, 'out-split'), '--json');
      expect(split.code).toBe(0);
      expect(split.stderr).toContain('Shard: 0 of 4 groups of inputs (1 inputs)');
      expect(split.summary).toMatchObject({ records: { in: 20, out: 20, errors: 0 } });
      expect(split.summary?.inputs).toMatchObject([{ key: 'split.parquet', records: 20, errors: 0 }]);
    } finally {
      delete process.env.PIPELINE_PARQUET_PART_BYTES;
    }
    const output = await readFile(join(dir, 'out-split', 'split.parquet.out'));
    expect(output.equals(await readFile(join(dir, 'out-whole', 'split.parquet.out')))).toBe(true);
    expect(output.toString('utf8').split('\n')[19]).toBe('[38.0,-38.0]');
  });

  it('quarantines malformed lines with their line numbers; the job fails only over maxErrorPercent', async () => {
    const lines = Array.from({ length: 10 }, (_, k) => `{"features":[${k},1]}`);
    lines[3] = '{"features":[3,';
    lines[7] = '{"id":8}';
    const input = await file('mixed.jsonl', `${lines.join('\n')}\n`);
    const filter = { dataProcessing: { inputFilter: '$.features' } };
    const under = join(dir, 'out-under');
    const passed = await pipeline(
      'run',
      input,
      '--job',
      await job('under.job.json', { ...filter, maxErrorPercent: 20 }),
      '--out',
      under,
      '--json',
    );
    expect(passed.code).toBe(0);
    expect(passed.summary).toMatchObject({ status: 'Succeeded', records: { in: 10, out: 8, errors: 2 } });
    expect(await results(under, 'mixed.jsonl.out')).toEqual(
      [0, 1, 2, 4, 5, 6, 8, 9].map((k) => `[${2 * k}.0,2.0]`),
    );
    const errors = (await results(under, '_errors.jsonl')).map(
      (line) => JSON.parse(line) as Record<string, unknown>,
    );
    expect(errors).toMatchObject([
      { input: 'mixed.jsonl', record: 4, line: 4, reason: expect.stringContaining('invalid JSON') },
      { input: 'mixed.jsonl', record: 8, line: 8, reason: expect.stringContaining("no member 'features'") },
    ]);

    const over = join(dir, 'out-over');
    const failed = await pipeline(
      'run',
      input,
      '--job',
      await job('over.job.json', { ...filter, maxErrorPercent: 5 }),
      '--out',
      over,
      '--json',
    );
    expect(failed.code).toBe(1);
    expect(failed.summary).toMatchObject({ status: 'Failed', records: { in: 10, out: 8, errors: 2 } });
    expect(failed.summary?.reason).toContain('over maxErrorPercent 5');
    expect(await results(over, '_errors.jsonl')).toHaveLength(2);
  });

  it('gives identical results with SingleRecord and MultiRecord, over an input of several shards', async () => {
    // About 3.4 MB with 1 MB shards: several shards, each scored in several requests.
    const count = 60_000;
    const rows = Array.from({ length: count }, (_, k) => `{"id":${k},"features":[${k % 1000},${-k}]}\n`);
    const input = await file('many.jsonl', rows.join(''));
    const base = { shardSizeInMB: 1, maxPayloadInMB: 1, dataProcessing: { inputFilter: '$.features' } };
    const multi = join(dir, 'out-multi');
    const single = join(dir, 'out-single');
    const first = await pipeline(
      'run',
      input,
      '--job',
      await job('multi.job.json', { ...base, batchStrategy: 'MultiRecord' }),
      '--out',
      multi,
      '--json',
    );
    expect(first.summary).toMatchObject({
      status: 'Succeeded',
      records: { in: count, out: count, errors: 0 },
    });
    const second = await pipeline(
      'run',
      input,
      '--job',
      await job('single.job.json', { ...base, batchStrategy: 'SingleRecord', maxConcurrentTransforms: 8 }),
      '--out',
      single,
      '--json',
    );
    expect(second.summary).toMatchObject({
      status: 'Succeeded',
      records: { in: count, out: count, errors: 0 },
    });
    const multiOut = await readFile(join(multi, 'many.jsonl.out'), 'utf8');
    expect(await readFile(join(single, 'many.jsonl.out'), 'utf8')).toBe(multiOut);
    const lines = multiOut.split('\n');
    expect(lines[0]).toBe('[0.0,0.0]');
    expect(lines[count - 1]).toBe(`[${2 * ((count - 1) % 1000)}.0,${-2 * (count - 1)}.0]`);
  }, 180_000);

  it('keeps the jobs of a data dir: status lists them and rerun repeats one under a new id', async () => {
    const dataDir = join(dir, 'data');
    const input = await file('again.jsonl', '{"features":[1,1]}\n');
    const spec = await job('again.job.json', { dataProcessing: { inputFilter: '$.features' } });
    const first = await pipeline('run', input, '--job', spec, '--data-dir', dataDir, '--json');
    expect(first.code).toBe(0);
    const jobId = first.summary?.jobId ?? '';
    expect(await readFile(join(dataDir, 'results', jobId, 'again.jsonl.out'), 'utf8')).toBe('[2.0,2.0]\n');

    const rerun = await pipeline('rerun', jobId, '--data-dir', dataDir, '--json');
    expect(rerun.code).toBe(0);
    expect(rerun.summary).toMatchObject({ status: 'Succeeded', rerunOf: jobId });
    expect(rerun.summary?.jobId).not.toBe(jobId);

    const status = await pipeline('status', '--data-dir', dataDir, '--json');
    const jobs = JSON.parse(status.stdout) as { jobId: string; status: string; rerunOf?: string }[];
    expect(jobs.map((j) => [j.jobId, j.status, j.rerunOf])).toEqual([
      [jobId, 'Succeeded', undefined],
      [rerun.summary?.jobId, 'Succeeded', jobId],
    ]);
    expect((await pipeline('rerun', 'no-such-job', '--data-dir', dataDir)).code).toBe(2);
  });

  it('fails with the cause, and leaves nothing behind, when the model cannot answer the records', async () => {
    // Three features for a model that takes two: every request is refused with a 400.
    const input = await file('wide.jsonl', '{"features":[1,2,3]}\n');
    const dataDir = join(dir, 'data-wide');
    const spec = await job('wide.job.json', { dataProcessing: { inputFilter: '$.features' } });
    const { code, summary, stderr } = await pipeline(
      'run',
      input,
      '--job',
      spec,
      '--data-dir',
      dataDir,
      '--json',
    );
    expect(code).toBe(1);
    expect(summary).toMatchObject({ status: 'Failed', error: { name: 'States.TaskFailed' } });
    expect(stderr).toContain('wide.jsonl');
    expect(await readdir(join(dataDir, 'work')).catch(() => [])).toEqual([]);
  });

  it('refuses what cannot run with exit status 2, naming the field or flag', async () => {
    const input = await file('one.jsonl', '{"features":[1,2]}\n');
    expect(await pipeline('run', input)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no model: give --model'),
    });
    const bad = await job('bad.job.json', { maxPayloadInMB: 60, maxConcurrentTransforms: 4 });
    expect(await pipeline('run', input, '--job', bad)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('maxPayloadInMB × maxConcurrentTransforms must be at most 100'),
    });
    expect(await pipeline('run', join(dir, 'missing.jsonl'), '--model', model)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('missing.jsonl is not a file'),
    });
    expect(await pipeline('run', input, '--modle', model)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Unknown option '--modle'"),
    });
  });

  it('says what a mistyped job spec field or value most likely meant, with exit status 2', async () => {
    const input = await file('typo.jsonl', '{"features":[1,2]}\n');
    const value = await job('typo-value.job.json', { splitType: 'Lines' });
    expect(await pipeline('run', input, '--job', value)).toMatchObject({
      code: 2,
      stderr:
        'pipeline run: job spec splitType: Invalid option: expected one of "Line"|"RecordIO"|"TFRecord"|"None"; did you mean "Line"?\n',
    });
    const field = await job('typo-field.job.json', { spliType: 'Line' });
    expect(await pipeline('run', input, '--job', field)).toMatchObject({
      code: 2,
      stderr: 'pipeline run: job spec: unknown field spliType (did you mean splitType?)\n',
    });
  });

  it('refuses a bad output filter with exit status 2 before anything runs', async () => {
    // Prepare: a data dir to see that no job was queued in it.
    const dataDir = await mkdtemp(join(tmpdir(), 'pipeline-filter-'));
    const input = await file('filtered.jsonl', '{"features":[1,2]}\n');
    const bad = await job('filter.job.json', { dataProcessing: { outputFilter: '$[[[bad' } });
    // Act
    const run = await pipeline('run', input, '--job', bad, '--data-dir', dataDir);
    // Assess
    expect(run).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('dataProcessing.outputFilter: JSONPath'),
    });
    expect(await readdir(join(dataDir, 'executions')).catch(() => [])).toEqual([]);
  });

  it('refuses a malformed default-job.json of the data dir with exit status 2, naming the file', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pipeline-defaults-'));
    const defaults = join(dataDir, 'config', 'default-job.json');
    await mkdir(dirname(defaults), { recursive: true });
    await writeFile(defaults, '{"instanceType": "ml.c5.xlarge",');
    const input = await file('defaults.jsonl', '{"features":[1,2]}\n');
    for (const command of [
      ['run', input, '--model', model, '--data-dir', dataDir],
      ['plan', input, '--model', model, '--data-dir', dataDir],
    ]) {
      expect(await pipeline(...command)).toMatchObject({
        code: 2,
        stderr: expect.stringContaining(`${defaults}: is not valid JSON`),
      });
    }
  });
});

describe('the README main command', () => {
  it('scores the bundled iris sample end to end and exits 0', async () => {
    const out = join(dir, 'iris');
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          join(root, 'bin/pipeline.js'),
          'run',
          'samples/iris.jsonl',
          '--job',
          'samples/iris.job.json',
          '--out',
          out,
          '--json',
        ],
        { cwd: root },
        (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }),
      );
    });
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '') as JobSummary;
    expect(summary.records).toEqual({ in: 150, out: 150, errors: 0 });
    const scored = (await results(out, 'iris.jsonl.out')).map(
      (line) => JSON.parse(line) as { species: string; SageMakerOutput: number[] },
    );
    const species = ['setosa', 'versicolor', 'virginica'];
    const right = scored.filter(
      ({ species: actual, SageMakerOutput: p }) => species[p.indexOf(Math.max(...p))] === actual,
    );
    expect(right.length / scored.length).toBeGreaterThan(0.9);
  });
});
