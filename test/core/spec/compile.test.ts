import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  checkInput,
  checkJobSource,
  compileJob,
  inputBytes,
  inputReading,
  MAX_RECORD_MB,
  resolveJob,
} from '../../../src/core/spec/compile.ts';
import { DEFAULT_JOB } from '../../../src/core/spec/job.ts';

const MB = 1024 * 1024;

describe('resolveJob', () => {
  it('fills the defaults, later sources win, nested objects merge member by member', () => {
    const { spec } = resolveJob(
      { model: 's3://b/a/model.tar.gz', dataProcessing: { joinSource: 'Input' }, environment: { A: '1' } },
      undefined,
      { model: 's3://b/b/model.tar.gz', dataProcessing: { inputFilter: '$.features' } },
    );
    expect(spec).toEqual({
      ...DEFAULT_JOB,
      model: 's3://b/b/model.tar.gz',
      dataProcessing: { joinSource: 'Input', inputFilter: '$.features' },
      environment: { A: '1' },
    });
  });

  it.each([
    [{}, 'model: '],
    [{ model: 'm', splitType: 'Lines' }, 'splitType: '],
    [{ model: 'm', colour: 'red' }, '(spec): unknown field colour'],
    [{ model: 'm', dataProcessing: { joinSource: 'Output' } }, 'dataProcessing.joinSource: '],
    [{ model: 'm', instanceCount: 0 }, 'instanceCount: '],
    [
      { model: 'm', maxPayloadInMB: 50, maxConcurrentTransforms: 4 },
      'maxPayloadInMB: maxPayloadInMB × maxConcurrentTransforms must be at most 100 (here 50 × 4)',
    ],
    [
      { model: 'm', maxPayloadInMB: 0 },
      'maxPayloadInMB: 0 (no limit) only goes with batchStrategy SingleRecord',
    ],
    [
      { model: 'm', contentType: 'image/jpeg', dataProcessing: { inputFilter: '$.a' } },
      'dataProcessing.inputFilter: records of image/jpeg',
    ],
    [
      {
        model: 'm',
        contentType: 'application/x-recordio',
        splitType: 'RecordIO',
        dataProcessing: { inputFilter: '$.a' },
      },
      'dataProcessing.inputFilter: records of application/x-recordio split by RecordIO cannot be filtered',
    ],
    [{ model: 'm', dataProcessing: { inputFilter: '$..a' } }, 'dataProcessing.inputFilter: JSONPath'],
    [{ model: 'm', dataProcessing: { outputFilter: '$[[[bad' } }, 'dataProcessing.outputFilter: JSONPath'],
    [
      { model: 'm', splitType: 'None', dataProcessing: { joinSource: 'Input' } },
      'dataProcessing.joinSource: joining records needs',
    ],
    [{ model: 'm', serverlessConfig: { memorySizeInMB: 1500 } }, 'serverlessConfig.memorySizeInMB: '],
    [{ model: 'm', serverlessConfig: { maxConcurrency: 201 } }, 'serverlessConfig.maxConcurrency: '],
    [{ model: 'm', endpointMaxRecords: 1.5 }, 'endpointMaxRecords: '],
    [
      { model: 'tfhub:a/b/1', code: { inference: 'https://x/inference.py' } },
      'code.inference: an s3:// URL of a file',
    ],
    [
      { model: 's3://b/m.tar.gz', code: { inference: 's3://b/inference.py' } },
      'code: only goes with a tfhub: model, which is packaged with it',
    ],
  ])('rejects %j naming the field', (source, message) => {
    expect(() => resolveJob(source)).toThrow(
      expect.objectContaining({ name: 'JobSpecError', message: expect.stringContaining(message) }),
    );
  });

  it.each([
    [
      { model: 'm', splitType: 'Lines' },
      'splitType: Invalid option: expected one of "Line"|"RecordIO"|"TFRecord"|"None"; did you mean "Line"?',
    ],
    [
      { model: 'm', compressionType: 'gzip' },
      'compressionType: Invalid option: expected one of "None"|"Gzip"; did you mean "Gzip"?',
    ],
    [{ model: 'm', spliType: 'Line' }, '(spec): unknown field spliType (did you mean splitType?)'],
    [
      { model: 'm', dataProcessing: { inputfilter: '$.a', colour: 'red' } },
      'dataProcessing: unknown field inputfilter (did you mean inputFilter?), colour',
    ],
    [{ model: 'm', colour: 'red' }, '(spec): unknown field colour'],
    [
      { model: 'm', batchStrategy: 'Batch' },
      'batchStrategy: Invalid option: expected one of "MultiRecord"|"SingleRecord"',
    ],
  ])('says what a mistyped %j most likely meant, and nothing when no name is close', (source, message) => {
    expect(() => resolveJob(source)).toThrow(expect.objectContaining({ name: 'JobSpecError', message }));
  });
});

describe('compileJob', () => {
  it('reads JSON Lines as JSON and sends JSON Lines of instances', () => {
    const job = resolveJob({ model: 'm', dataProcessing: { inputFilter: '$.features' } });
    expect(job.records).toEqual({
      splitType: 'Line',
      decoding: 'json',
      inputFilter: '$.features',
      csvHeader: false,
      maxRecordBytes: 6 * MB,
      shardBytes: 64 * MB,
      requestPerLine: false,
    });
    expect(job.shards).toEqual({
      format: 'instances',
      extension: 'jsonl',
      contentType: 'application/jsonlines',
      splitType: 'Line',
    });
    expect(job.transformPayloadBytes).toBe(6 * MB);
  });

  it.each([
    [{ contentType: 'text/csv' }, 'csv', 'instances', 'jsonl'],
    [{ contentType: 'application/json', splitType: 'None' }, 'json', 'instances', 'jsonl'],
    [{ contentType: 'text/plain' }, 'none', 'original', 'txt'],
    [{ contentType: 'application/x-tfrecord', splitType: 'TFRecord' }, 'none', 'original', 'tfrecord'],
    [
      {
        contentType: 'application/x-tfrecord',
        splitType: 'TFRecord',
        dataProcessing: { inputFilter: '$.x' },
      },
      'tf-example',
      'instances',
      'jsonl',
    ],
    [
      { contentType: 'application/x-recordio', splitType: 'RecordIO', dataProcessing: { inputFilter: '$' } },
      'none',
      'original',
      'rec',
    ],
    [{ contentType: 'image/jpeg', splitType: 'None' }, 'none', 'original', 'bin'],
    [{ contentType: 'application/x-parquet' }, 'parquet', 'instances', 'jsonl'],
    [{ contentType: 'application/x-parquet', splitType: 'TFRecord' }, 'parquet', 'instances', 'jsonl'],
  ])('decodes %j as %s, shards holding %s records (.%s)', (fields, decoding, format, extension) => {
    const job = resolveJob({ model: 'm', ...fields });
    expect(job.records.decoding).toBe(decoding);
    expect(job.shards).toMatchObject({ format, extension });
    if (format === 'original') {
      expect(job.shards).toMatchObject({ contentType: job.spec.contentType, splitType: job.spec.splitType });
    }
  });

  it('caps a record at what a serverless endpoint takes when the job may go to one', () => {
    const limit = (fields: Record<string, unknown>) =>
      resolveJob({ model: 'm', ...fields }).records.maxRecordBytes;
    expect(limit({})).toBe(6 * MB);
    expect(limit({ endpointMaxRecords: 10 })).toBe(4 * MB);
    expect(limit({ endpointMaxRecords: 10, maxPayloadInMB: 1 })).toBe(MB);
    const unlimited = { maxPayloadInMB: 0, batchStrategy: 'SingleRecord' };
    expect(limit(unlimited)).toBe(MAX_RECORD_MB * MB);
    expect(limit({ ...unlimited, endpointMaxRecords: 10 })).toBe(4 * MB);
    expect(resolveJob({ model: 'm', ...unlimited }).transformPayloadBytes).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reads a Parquet input (by the job or by its name) as JSON rows, whatever the job reads others as', () => {
    const csv = resolveJob({ model: 'm', contentType: 'text/csv' });
    expect(inputReading(csv, 'inbox/day/part-0.snappy.parquet', 'day/part-0.snappy.parquet')).toMatchObject({
      input: 'day/part-0.snappy.parquet',
      decoding: 'parquet',
    });
    expect(inputReading(csv, 'inbox/day/a.csv', 'day/a.csv')).toMatchObject({ decoding: 'csv' });
    const parquet = resolveJob({ model: 'm', contentType: 'application/x-parquet' });
    expect(inputReading(parquet, 'inbox/day/table', 'day/table')).toMatchObject({ decoding: 'parquet' });
  });

  it('refuses splitType None for Parquet, naming the field', () => {
    expect(() => resolveJob({ model: 'm', contentType: 'application/x-parquet', splitType: 'None' })).toThrow(
      expect.objectContaining({
        name: 'JobSpecError',
        field: 'splitType',
        message: 'splitType: None does not go with Parquet, whose rows are the records: use Line',
      }),
    );
  });

  it('decompresses an input named .gz, or any input of a Gzip job, and reads the name through the .gz', async () => {
    // Prepare
    const stored = (bytes: Buffer) => ({
      size: bytes.length,
      read: async function* () {
        yield bytes;
      },
    });
    const text = async (file: { read(): AsyncIterable<Buffer> }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of file.read()) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks).toString();
    };
    const packed = stored(gzipSync('1,2\n'));
    const plain = resolveJob({ model: 'm', contentType: 'text/csv' });
    const gzip = resolveJob({ model: 'm', contentType: 'text/csv', compressionType: 'Gzip' });
    // Act and assess
    expect(await text(inputBytes(plain, 'inbox/a.csv.gz', 'a.csv.gz', packed))).toBe('1,2\n');
    expect(await text(inputBytes(gzip, 'inbox/a.csv', 'a.csv', packed))).toBe('1,2\n');
    expect(inputBytes(plain, 'inbox/a.csv', 'a.csv', packed)).toBe(packed);
    expect(inputReading(plain, 'inbox/t.parquet.gz', 't.parquet.gz')).toMatchObject({ decoding: 'parquet' });
  });

  it('refuses gzipped Parquet and gzipped whole objects, naming compressionType', () => {
    const refused = (message: string) =>
      expect.objectContaining({
        name: 'JobSpecError',
        field: 'compressionType',
        message: expect.stringContaining(message),
      });
    expect(() =>
      resolveJob({ model: 'm', contentType: 'application/x-parquet', compressionType: 'Gzip' }),
    ).toThrow(refused('Parquet cannot be read gzipped: Parquet compresses its own pages'));
    expect(() => checkInput(resolveJob({ model: 'm' }).spec, 'inbox/t.parquet.gz', 't.parquet.gz')).toThrow(
      refused('Parquet (t.parquet.gz) cannot be read gzipped'),
    );
    const whole = resolveJob({ model: 'm', contentType: 'image/jpeg', splitType: 'None' }).spec;
    expect(() => checkInput(whole, 'inbox/cat.jpg.gz', 'cat.jpg.gz')).toThrow(
      refused(
        'a gzipped input (cat.jpg.gz) of a splitType None job is sent as it is stored: say compressionType Gzip',
      ),
    );
    expect(() => checkInput(whole, 'inbox/cat.jpg', 'cat.jpg')).not.toThrow();
    // Gzip in a whole-object job: every object is decompressed before it is sent, as SageMaker does.
    const packed = resolveJob({ model: 'm', splitType: 'None', compressionType: 'Gzip' }).spec;
    expect(() => checkInput(packed, 'inbox/cat.jpg.gz', 'cat.jpg.gz')).not.toThrow();
    expect(() => resolveJob({ model: 'm', compressionType: 'Zip' })).toThrow(
      expect.objectContaining({ field: 'compressionType' }),
    );
  });

  it('compiles the output filter once, for the merge', () => {
    const job = resolveJob({ model: 'm', dataProcessing: { outputFilter: "$['id','SageMakerOutput']" } });
    expect(job.outputFilter?.expression).toBe("$['id','SageMakerOutput']");
    expect(resolveJob({ model: 'm' }).outputFilter).toBeUndefined();
  });

  it('takes back a compiled spec unchanged, as the steps receive it from the plan', () => {
    const { spec } = resolveJob({ model: 's3://b/m.tar.gz', contentType: 'text/csv', csvHeader: true });
    expect(compileJob(JSON.parse(JSON.stringify(spec))).spec).toEqual(spec);
  });
});

describe('checkJobSource', () => {
  it('accepts any subset of valid fields, without a model', () => {
    expect(() =>
      checkJobSource({ dataProcessing: { inputFilter: '$.features' }, instanceCount: 2 }),
    ).not.toThrow();
  });

  it.each([
    [{ instanceCount: 'two' }, 'instanceCount: '],
    [{ dataProcessing: { outputFilter: '$[[[bad' } }, 'dataProcessing.outputFilter: JSONPath'],
    [{ colour: 'red' }, '(spec): unknown field colour'],
  ])('refuses %j naming the field', (source, message) => {
    expect(() => checkJobSource(source)).toThrow(
      expect.objectContaining({ name: 'JobSpecError', message: expect.stringContaining(message) }),
    );
  });

  it('leaves the rules across fields to the merged spec', () => {
    expect(() => checkJobSource({ maxPayloadInMB: 50 })).not.toThrow();
  });
});

describe('whole-object jobs', () => {
  it('refuses a filter on objects sent and answered as they are, naming the field', () => {
    const whole = { model: 'm', contentType: 'image/png', splitType: 'None' };
    expect(() => resolveJob({ ...whole, dataProcessing: { inputFilter: '$.a' } })).toThrow(
      'dataProcessing.inputFilter: whole objects (splitType None) are sent and answered as they are',
    );
    expect(() => resolveJob({ ...whole, dataProcessing: { outputFilter: '$.a' } })).toThrow(
      expect.objectContaining({ name: 'JobSpecError', field: 'dataProcessing.outputFilter' }),
    );
    expect(resolveJob({ ...whole, dataProcessing: { inputFilter: '$' } }).spec.splitType).toBe('None');
  });
});
