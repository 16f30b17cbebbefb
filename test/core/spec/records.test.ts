import { describe, expect, it } from 'vitest';
import { decodingFor } from '../../../src/core/spec/records.ts';

describe('decodingFor', () => {
  it('reads records the way the content type and split type say', () => {
    expect(decodingFor({ contentType: 'application/jsonlines', splitType: 'Line' })).toBe('json');
    expect(decodingFor({ contentType: 'application/json', splitType: 'None' })).toBe('json');
    expect(decodingFor({ contentType: 'text/csv', splitType: 'Line' })).toBe('csv');
    expect(decodingFor({ contentType: 'text/plain', splitType: 'Line' })).toBe('none');
    expect(decodingFor({ contentType: 'application/x-tfrecord', splitType: 'TFRecord' })).toBe('none');
    expect(
      decodingFor({ contentType: 'application/x-tfrecord', splitType: 'TFRecord', inputFilter: '$.x' }),
    ).toBe('tf-example');
    expect(
      decodingFor({ contentType: 'application/x-recordio', splitType: 'RecordIO', inputFilter: '$' }),
    ).toBe('none');
  });

  it('rejects a filter on records it cannot read as JSON, and a filter outside the subset, naming the field', () => {
    expect(() =>
      decodingFor({ contentType: 'application/x-recordio', splitType: 'RecordIO', inputFilter: '$.a' }),
    ).toThrow(expect.objectContaining({ name: 'JobSpecError', field: 'dataProcessing.inputFilter' }));
    expect(() => decodingFor({ contentType: 'text/csv', splitType: 'Line', inputFilter: '$..a' })).toThrow(
      /dataProcessing.inputFilter: JSONPath "\$..a"/,
    );
  });
});
