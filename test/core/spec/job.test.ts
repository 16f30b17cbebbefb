import { describe, expect, it } from 'vitest';
import { DEFAULT_JOB, resolveJobSpec } from '../../../src/core/spec/job.ts';

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
  ])('rejects %j naming the field', (source, message) => {
    expect(() => resolveJobSpec(source)).toThrow(
      expect.objectContaining({ name: 'JobSpecError', message: expect.stringContaining(message) }),
    );
  });

  it('rejects a source that is not an object', () => {
    expect(() => resolveJobSpec({ model: 'm' }, ['x'])).toThrow(
      '(source 2): a job spec must be a JSON object',
    );
  });
});
