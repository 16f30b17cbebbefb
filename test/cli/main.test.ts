import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Field, Float64, Int32, List, Table, vectorFromArray } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeTfRecords } from '../../src/core/records/tfrecord.ts';
import { parquetFile } from '../support/parquet.ts';

const bin = fileURLToPath(new URL('../../bin/pipeline.js', import.meta.url));

function pipeline(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return node(bin, ...args);
}

function node(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-cli-'));
  await writeFile(join(dir, 'good.jsonl'), '{"features":[1,2]}\n{"features":[3,4]}\n');
  await writeFile(join(dir, 'mixed.jsonl'), '{"features":[1,2]}\n{bad\n\n{"id":7}\n');
  await writeFile(join(dir, 'rows.csv'), 'a,b\n1,2\n"3,4\n');
  await writeFile(join(dir, 'records.tfrecord'), encodeTfRecords([Buffer.from('x'), Buffer.from('y')]));
});

describe('pipeline check', () => {
  it('exits 0 and counts the records when every record can be scored', async () => {
    const { code, stdout } = await pipeline('check', join(dir, 'good.jsonl'), '--input-filter', '$.features');
    expect(code).toBe(0);
    expect(stdout).toContain('2 records, 2 can be scored, 0 would be quarantined');
  });

  it('exits 1 and names each bad record by line and reason', async () => {
    const { code, stdout } = await pipeline(
      'check',
      join(dir, 'mixed.jsonl'),
      '--input-filter',
      '$.features',
    );
    expect(code).toBe(1);
    expect(stdout).toContain('3 records, 1 can be scored, 2 would be quarantined, 1 empty line skipped');
    expect(stdout).toContain('record 2 (line 2): invalid JSON at column 2');
    expect(stdout).toContain("record 3 (line 4): $.features: no member 'features'");
  });

  it('reads CSV with a header and binary framings, and prints JSON when asked', async () => {
    const csv = await pipeline(
      'check',
      join(dir, 'rows.csv'),
      '--content-type',
      'text/csv',
      '--csv-header',
      '--json',
    );
    expect(csv.code).toBe(1);
    const [summary] = csv.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { records: { sent: number }; errors: { reason: string }[] });
    expect(summary?.records.sent).toBe(1);
    expect(summary?.errors[0]?.reason).toBe('unterminated quoted field');
    const tfrecord = await pipeline(
      'check',
      join(dir, 'records.tfrecord'),
      '--content-type',
      'application/x-tfrecord',
      '--split-type',
      'TFRecord',
    );
    expect(tfrecord).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('2 records, 2 can be scored'),
    });
  });

  it('describes a Parquet file and names the rows that would be quarantined by row group', async () => {
    const table = new Table({
      id: vectorFromArray([1, 2, 3], new Int32()),
      features: vectorFromArray([[1, 2], null, [3, 4]], new List(new Field('item', new Float64(), true))),
    });
    await writeFile(join(dir, 'rows.parquet'), parquetFile(table, { rowGroupRows: 1 }));

    const { code, stdout } = await pipeline(
      'check',
      join(dir, 'rows.parquet'),
      '--input-filter',
      '$.features[0]',
    );

    expect(code).toBe(1);
    expect(stdout).toContain(
      'rows.parquet: Parquet, 3 rows in 3 row groups, columns:\n  id: int32\n  features: list<double>\n',
    );
    expect(stdout).toContain('3 records, 2 can be scored, 1 would be quarantined');
    expect(stdout).toContain(
      'record 2 (row group 1): $.features[0]: [0] asked of a value that is not an array',
    );
  });

  it('exits 2 on a usage error, naming the flag or field and the rule', async () => {
    expect(await pipeline('check', join(dir, 'good.jsonl'), '--split-type', 'Lines')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--split-type must be one of Line, RecordIO, TFRecord, None'),
    });
    expect(
      await pipeline(
        'check',
        join(dir, 'good.jsonl'),
        '--content-type',
        'image/jpeg',
        '--input-filter',
        '$.a',
      ),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        'dataProcessing.inputFilter: records of image/jpeg split by Line cannot be filtered',
      ),
    });
    expect(await pipeline('check', join(dir, 'good.jsonl'), '--input-filter', 'features')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('must start with $'),
    });
    expect(await pipeline('frobnicate')).toMatchObject({
      code: 2,
      stderr: "pipeline: unknown command 'frobnicate' (try --help)\n",
    });
  });

  it('says which command or option a mistyped one most likely meant', async () => {
    expect(await pipeline('rnu')).toMatchObject({
      code: 2,
      stderr: "pipeline: unknown command 'rnu'; did you mean run? (try --help)\n",
    });
    const option = await pipeline('check', join(dir, 'good.jsonl'), '--input-fitler', '$.features');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Unknown option '--input-fitler'");
    expect(option.stderr).toContain('\nDid you mean --input-filter?\n');
    const far = await pipeline('check', join(dir, 'good.jsonl'), '--colour', 'red');
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('Did you mean');
  });

  it('prints help on --help and exits 0', async () => {
    const { code, stdout } = await pipeline('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('pipeline check <file...>');
  });
});

describe('local mode', () => {
  it('runs the bundled sample without importing the AWS SDK', async () => {
    // Prepare: a process in which any import of @aws-sdk/* fails.
    const forbid = fileURLToPath(new URL('../support/forbid-aws-sdk.mjs', import.meta.url));
    const samples = fileURLToPath(new URL('../../samples/', import.meta.url));
    const out = join(dir, 'no-sdk');
    // Act
    const run = await node(
      '--import',
      forbid,
      bin,
      'run',
      join(samples, 'iris.jsonl'),
      '--job',
      join(samples, 'iris.job.json'),
      '--out',
      out,
    );
    // Assess
    expect(run.stderr).not.toContain('local mode imported');
    expect(run).toMatchObject({
      code: 0,
      stderr: expect.stringContaining('Succeeded: 150 records in, 150 scored'),
    });
  });
});
