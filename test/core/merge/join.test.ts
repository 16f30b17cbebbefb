import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvLine, joinCsv, joinJson } from '../../../src/core/merge/join.ts';

const json = (record: string, output: string): string =>
  joinJson(Buffer.from(record), Buffer.from(output)).toString('utf8');
const csv = (record: string, output: string): string =>
  joinCsv(Buffer.from(record), Buffer.from(output)).toString('utf8');
const line = (joined: string): string => csvLine(Buffer.from(joined)).toString('utf8');

describe('joinJson', () => {
  it.each([
    ['{"id":1}', '[0.5]', '{"id":1,"SageMakerOutput":[0.5]}'],
    [
      '{"id":1,"f":[1,2]}',
      '{"score":0.5,"label":"b"}',
      '{"id":1,"f":[1,2],"SageMakerOutput":{"score":0.5,"label":"b"}}',
    ],
    ['{"a":"}"}', '"x"', '{"a":"}","SageMakerOutput":"x"}'],
    ['{"a":{"b":{}}}', 'null', '{"a":{"b":{}},"SageMakerOutput":null}'],
    ['{}', '1', '{"SageMakerOutput":1}'],
  ])('gives the object %s a SageMakerOutput member', (record, output, expected) => {
    expect(json(record, output)).toBe(expected);
  });

  it('keeps the white space inside the object and drops the white space around it', () => {
    expect(json(' \t{ "id" : 1 }  \r', ' [0.5]')).toBe('{ "id" : 1,"SageMakerOutput": [0.5]}');
    expect(json('{\n  "id": 1\n}\n', '2')).toBe('{\n  "id": 1,"SageMakerOutput":2}');
  });

  it('joins an empty object written with white space inside as valid JSON', () => {
    for (const record of ['{ }', '{\t}', ' {\r\n} ']) {
      expect(JSON.parse(json(record, '[1]'))).toEqual({ SageMakerOutput: [1] });
    }
  });

  it.each([
    ['[1, 2]', '[[0.1,0.9]]', '{"SageMakerInput":[1, 2],"SageMakerOutput":[[0.1,0.9]]}'],
    [' 7 ', '{"y":1}', '{"SageMakerInput":7,"SageMakerOutput":{"y":1}}'],
    ['"text"', '"label"', '{"SageMakerInput":"text","SageMakerOutput":"label"}'],
    ['null', 'true', '{"SageMakerInput":null,"SageMakerOutput":true}'],
    ['[]', '[]', '{"SageMakerInput":[],"SageMakerOutput":[]}'],
  ])('wraps %s, which is not an object, with its output', (record, output, expected) => {
    expect(json(record, output)).toBe(expected);
  });
});

describe('joinCsv', () => {
  it.each([
    ['a,1', '[0.5]', '["a",1,0.5]'],
    ['a,1', '0.5', '["a",1,0.5]'],
    ['a,1', '[[0.1,0.9],[0.2]]', '["a",1,0.1,0.9,0.2]'],
    ['a,1', '{"label":"b","scores":[0.2,0.8]}', '["a",1,"b",0.2,0.8]'],
    ['a,1', '"x,y"', '["a",1,"x,y"]'],
    ['a,1', 'null', '["a",1,null]'],
    ['a,1', '[]', '["a",1]'],
  ])('appends to the row %s the values of the prediction %s', (record, output, expected) => {
    expect(csv(record, output)).toBe(expected);
  });

  it('reads quoted fields: commas, doubled quotes, line breaks and empty fields', () => {
    expect(csv('"b,c","say ""hi""",,"two\nlines"', '1')).toBe('["b,c","say \\"hi\\"",null,"two\\nlines",1]');
  });
});

describe('csvLine', () => {
  it.each([
    ['["a",1,0.5]', 'a,1,0.5'],
    ['["b,c","say \\"hi\\"",null,"two\\nlines",1]', '"b,c","say ""hi""",,"two\nlines",1'],
    ['[true,false,"007"]', 'true,false,007'],
    ['0.5', '0.5'],
    ['"a,b"', '"a,b"'],
    ['{"id":1,"label":"b"}', '1,b'],
    ['[null]', '""'],
  ])('writes %s as the CSV line %s', (joined, expected) => {
    expect(line(joined)).toBe(expected);
  });

  it('gives back any row as written, fields JSON would write otherwise included', () => {
    const field = fc.constantFrom(
      '1e400',
      '0.1000000000000000055511',
      '-0',
      '+5',
      ' 5',
      '.5',
      '5.',
      '007',
      'x',
      '',
      '"a,b"',
      '"say ""hi"""',
      'é',
    );
    fc.assert(
      fc.property(fc.array(field, { minLength: 2, maxLength: 6 }), (fields) => {
        const row = fields.join(',');

        expect(line(csv(row, '[]'))).toBe(row);
      }),
    );
  });

  it('appends the values of a prediction as written, strings unquoted when they can be', () => {
    expect(line(csv('a', '{"label":"b,c","scores":[1.50,2e-7],"n":null,"ok":true}'))).toBe(
      'a,"b,c",1.50,2e-7,,true',
    );
    expect(line(csv('a', '"\\u00e9 \\"q\\""'))).toBe('a,"é ""q"""');
  });

  it('gives back the row as written, with the prediction appended, once joined', () => {
    // Prepare: numbers a double cannot hold as written, in the row and in the prediction.
    const record = '9007199254740993,19.90,x';
    // Act
    const joined = line(csv(record, '[12345678901234567890]'));
    // Assess
    expect(joined).toBe('9007199254740993,19.90,x,12345678901234567890');
  });
});
