import { describe, expect, it } from 'vitest';
import { DEFAULT_JOB, MAX_RECORD_MB, maxRecordBytes, resolveJobSpec } from '../../../src/core/spec/job.ts';

describe('resolveJobSpec', () => {
  it('fills the defaults, later sources win, nested objects merge member by member', () => {
    const spec = resolveJobSpec(
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
      { model: 'm', contentType: 'image/jpeg', dataProcessing: { inputFilter: '$.a' } },
      'dataProcessing.inputFilter: records of image/jpeg',
    ],
    [{ model: 'm', dataProcessing: { inputFilter: '$..a' } }, 'dataProcessing.inputFilter: JSONPath'],
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
    expect(() => resolveJobSpec(source)).toThrow(
      expect.objectContaining({ name: 'JobSpecError', message: expect.stringContaining(message) }),
    );
  });

  it('caps a record at what a serverless endpoint takes when the job may go to one', () => {
    const MB = 1024 * 1024;
    expect(maxRecordBytes(resolveJobSpec({ model: 'm' }))).toBe(6 * MB);
    expect(maxRecordBytes(resolveJobSpec({ model: 'm', endpointMaxRecords: 10 }))).toBe(4 * MB);
    expect(maxRecordBytes(resolveJobSpec({ model: 'm', endpointMaxRecords: 10, maxPayloadInMB: 1 }))).toBe(
      MB,
    );
    const unlimited = { model: 'm', maxPayloadInMB: 0, batchStrategy: 'SingleRecord' };
    expect(maxRecordBytes(resolveJobSpec(unlimited))).toBe(MAX_RECORD_MB * MB);
    expect(maxRecordBytes(resolveJobSpec({ ...unlimited, endpointMaxRecords: 10 }))).toBe(4 * MB);
  });

  it('rejects a source that is not an object', () => {
    expect(() => resolveJobSpec({ model: 'm' }, ['x'])).toThrow(
      '(source 2): a job spec must be a JSON object',
    );
  });
});
