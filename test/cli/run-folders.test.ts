import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobSummary } from '../../src/core/steps/finish.ts';
import { pipeline as runCli } from '../support/cli.ts';
import { scalingModel } from '../support/models.ts';

// `pipeline run` on folders and gzipped files, end to end through the state machine, the local
// SageMaker and the model server: a model that doubles its two features.

async function pipeline(...args: string[]) {
  const result = await runCli(...args);
  return { ...result, summary: result.report as JobSummary | undefined };
}

let dir = '';
let model = '';
/** A job spec sending each record's features. */
let featuresJob = '';

async function file(path: string, content: string | Buffer): Promise<string> {
  const full = join(dir, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, content);
  return full;
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line.length > 0);
}

/** Every result file (`*.out`) below `folder`, as paths relative to it, sorted. */
async function outputs(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.out'))
    .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
    .sort();
}

/** `pipeline run` of the inputs with the doubling model and the features job, results in `out`. */
const runWithFeatures = (inputs: readonly string[], out: string) =>
  pipeline('run', ...inputs, '--model', model, '--job', featuresJob, '--out', out, '--json');

const features = (k: number) => `{"features":[${k},1]}\n`;
const doubled = (k: number) => `[${2 * k}.0,2.0]`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-folders-'));
  model = join(dir, 'models', 'double');
  await scalingModel(model, 1, 2);
  featuresJob = await file(
    'features.job.json',
    JSON.stringify({ dataProcessing: { inputFilter: '$.features' } }),
  );
});

describe('pipeline run on a folder', () => {
  it('scores every file below it in key order, named relative to it, skipping hidden files, sidecars and markers', async () => {
    // Prepare: nested folders, two files of the same name in different folders, and what is not an input.
    await file('data/a/x.jsonl', features(1));
    await file('data/b/x.jsonl', features(2) + features(3));
    await file('data/top.jsonl', features(4));
    await file('data/.hidden.jsonl', '{"not":"an input"}\n');
    await file('data/.cache/y.jsonl', '{"not":"an input"}\n');
    await file('data/top.jsonl.job.json', '{"model":"nowhere"}');
    await file('data/_SUCCESS', '');
    await file('data/empty.jsonl', '');
    const out = join(dir, 'out-folder');
    // Act
    const { code, summary, stderr } = await runWithFeatures([join(dir, 'data')], out);
    // Assess
    expect(stderr).toContain(': 3 inputs');
    expect(code).toBe(0);
    expect(summary?.inputs.map((input) => input.key)).toEqual(['a/x.jsonl', 'b/x.jsonl', 'top.jsonl']);
    expect(await outputs(out)).toEqual(['a/x.jsonl.out', 'b/x.jsonl.out', 'top.jsonl.out']);
    expect(await lines(join(out, 'a/x.jsonl.out'))).toEqual([doubled(1)]);
    expect(await lines(join(out, 'b/x.jsonl.out'))).toEqual([doubled(2), doubled(3)]);
    expect(await lines(join(out, 'top.jsonl.out'))).toEqual([doubled(4)]);
    // The folder given is read where it is, and left as it was.
    expect((await readdir(join(dir, 'data'), { recursive: true })).sort()).toEqual(
      [
        '.cache',
        '.cache/y.jsonl',
        '.hidden.jsonl',
        '_SUCCESS',
        'a',
        'a/x.jsonl',
        'b',
        'b/x.jsonl',
        'empty.jsonl',
        'top.jsonl',
        'top.jsonl.job.json',
      ].sort(),
    );
  });

  it('follows a symbolic link to a folder inside the folder given, as it follows one to a file', async () => {
    await file('elsewhere/inner/z.jsonl', features(7));
    await file('linking/own.jsonl', features(8));
    await symlink(join(dir, 'elsewhere/inner'), join(dir, 'linking/inner'), 'dir');
    await symlink(join(dir, 'elsewhere/inner/z.jsonl'), join(dir, 'linking/z-link.jsonl'));
    const out = join(dir, 'out-linking');
    const { code, stderr } = await pipeline('run', join(dir, 'linking'), '--model', model, '--out', out);
    expect(stderr).toContain(': 3 inputs');
    expect(code).toBe(0);
    expect(await outputs(out)).toEqual(['inner/z.jsonl.out', 'own.jsonl.out', 'z-link.jsonl.out']);
    expect(await lines(join(out, 'inner/z.jsonl.out'))).toEqual(['[14.0,2.0]']);
    expect(await readdir(join(dir, 'elsewhere/inner'))).toEqual(['z.jsonl']);
  });

  it('scores a folder of 3,000 small files as one job, each file its own output, every record counted', async () => {
    // Prepare: 30 folders of 100 files; file k holds one record, and a second when k is a multiple of 9.
    const count = 3000;
    const records = (k: number) => (k % 9 === 0 ? [k, k + 0.5] : [k]);
    const name = (k: number) =>
      `${String(Math.floor(k / 100)).padStart(2, '0')}/${String(k).padStart(4, '0')}.jsonl`;
    for (let k = 0; k < count; k++) {
      await file(
        `small/${name(k)}`,
        records(k)
          .map((value) => features(value))
          .join(''),
      );
    }
    const out = join(dir, 'out-small');
    // Act
    const { code, summary, stderr } = await runWithFeatures([join(dir, 'small')], out);
    // Assess
    expect(stderr).toContain(': 3000 inputs');
    expect(code).toBe(0);
    const expected = Array.from({ length: count }, (_, k) => records(k).length).reduce((a, b) => a + b, 0);
    expect(summary?.records).toEqual({ in: expected, out: expected, errors: 0 });
    expect(await outputs(out)).toEqual(Array.from({ length: count }, (_, k) => `${name(k)}.out`));
    for (const k of [0, 1, 9, 1234, 2997, 2999]) {
      expect(await lines(join(out, `${name(k)}.out`))).toEqual(records(k).map(doubled));
    }
  });

  it('takes files and folders together, and refuses two inputs that would write the same result', async () => {
    const loose = await file('loose/one.jsonl', features(5));
    await file('set/two.jsonl', features(6));
    await file('clash/one.jsonl', features(7));
    const out = join(dir, 'out-mixed');
    const mixed = await runWithFeatures([loose, join(dir, 'set')], out);
    expect(mixed.code).toBe(0);
    expect(await outputs(out)).toEqual(['one.jsonl.out', 'two.jsonl.out']);

    const clash = await pipeline('run', loose, join(dir, 'clash'), '--model', model);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(
      `${loose} and ${join(dir, 'clash', 'one.jsonl')} would both be written to one.jsonl.out`,
    );
  });

  it('refuses a folder with no input in it, and a path that does not exist', async () => {
    await file('nothing/.hidden', 'x');
    await file('nothing/_SUCCESS', '');
    const empty = await pipeline('run', join(dir, 'nothing'), '--model', model);
    expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining('holds no input file') });
    const missing = await pipeline('run', join(dir, 'no-such-folder'), '--model', model);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('is not a file or a folder') });
  });
});

describe('pipeline run on gzipped files', () => {
  it('scores JSON Lines and CSV gzipped as they score plain, naming the results <file>.gz.out', async () => {
    // Prepare: the same records plain and gzipped, the gzipped ones in two gzip members.
    const records = Array.from({ length: 50 }, (_, k) => features(k)).join('');
    const rows = Array.from({ length: 50 }, (_, k) => `${k},1\n`).join('');
    const half = (text: string) => [text.slice(0, text.length / 2), text.slice(text.length / 2)];
    const gzipped = (text: string) => Buffer.concat(half(text).map((part) => gzipSync(part)));
    const plain = [await file('plain/records.jsonl', records), await file('plain/rows.csv', rows)];
    const packed = [
      await file('packed/records.jsonl.gz', gzipped(records)),
      await file('packed/rows.csv.gz', gzipped(rows)),
    ];
    const jsonJob = featuresJob;
    const csvJob = await file('csv.job.json', JSON.stringify({ contentType: 'text/csv' }));
    // Act
    const results: string[][] = [];
    for (const [index, spec] of [jsonJob, csvJob].entries()) {
      for (const input of [plain[index], packed[index]]) {
        const out = join(dir, `out-gz-${results.length}`);
        const run = await pipeline('run', input as string, '--model', model, '--job', spec, '--out', out);
        expect(run.code).toBe(0);
        const [name] = (await readdir(out)).filter((entry) => entry.endsWith('.out'));
        results.push([name ?? '', ...(await lines(join(out, name ?? '')))]);
      }
    }
    // Assess
    const [jsonPlain, jsonPacked, csvPlain, csvPacked] = results;
    expect(jsonPacked?.[0]).toBe('records.jsonl.gz.out');
    expect(jsonPacked?.slice(1)).toEqual(jsonPlain?.slice(1));
    expect(jsonPlain?.slice(1, 3)).toEqual([doubled(0), doubled(1)]);
    expect(csvPacked?.[0]).toBe('rows.csv.gz.out');
    expect(csvPacked?.slice(1)).toEqual(csvPlain?.slice(1));
    expect(csvPlain).toHaveLength(51);
  });

  it('decompresses a file not named .gz when the job says compressionType Gzip, for a join too', async () => {
    const input = await file('gzip-unnamed/records.jsonl', gzipSync(features(3) + features(4)));
    const spec = await file(
      'gzip.job.json',
      JSON.stringify({ compressionType: 'Gzip', dataProcessing: { inputFilter: '$.features' } }),
    );
    const out = join(dir, 'out-gzip-unnamed');
    const run = await pipeline('run', input, '--model', model, '--job', spec, '--out', out);
    expect(run.code).toBe(0);
    expect(await lines(join(out, 'records.jsonl.out'))).toEqual([doubled(3), doubled(4)]);

    // A join reads the input again, decompressed again.
    const joining = await file(
      'gzip-join.job.json',
      JSON.stringify({
        compressionType: 'Gzip',
        dataProcessing: { inputFilter: '$.features', joinSource: 'Input' },
      }),
    );
    const joined = join(dir, 'out-gzip-join');
    expect((await pipeline('run', input, '--model', model, '--job', joining, '--out', joined)).code).toBe(0);
    expect(await lines(join(joined, 'records.jsonl.out'))).toEqual([
      `{"features":[3,1],"SageMakerOutput":${doubled(3)}}`,
      `{"features":[4,1],"SageMakerOutput":${doubled(4)}}`,
    ]);
  });

  it('refuses gzipped Parquet and gzipped whole objects with exit status 2, before anything runs', async () => {
    const table = await file('refused/table.parquet.gz', gzipSync('not read'));
    expect(await pipeline('run', table, '--model', model)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('compressionType: Parquet (table.parquet.gz) cannot be read gzipped'),
    });
    const image = await file('refused/cat.jpg.gz', gzipSync('not read'));
    const whole = await file(
      'whole.job.json',
      JSON.stringify({ contentType: 'image/jpeg', splitType: 'None' }),
    );
    expect(await pipeline('run', image, '--model', model, '--job', whole)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        'compressionType: a gzipped input (cat.jpg.gz) of a splitType None job is sent as it is stored',
      ),
    });
  });

  it('fails a job whose gzipped input is damaged, naming the file', async () => {
    const whole = gzipSync(Array.from({ length: 200 }, (_, k) => features(k)).join(''));
    const input = await file('broken/cut.jsonl.gz', whole.subarray(0, whole.length - 40));
    const { code, summary, stderr } = await pipeline('run', input, '--model', model, '--json');
    expect(code).toBe(1);
    expect(summary).toMatchObject({ status: 'Failed' });
    expect(stderr).toContain('DecompressionError');
    expect(stderr).toContain('cut.jsonl.gz: cannot be decompressed as gzip');
  });
});
