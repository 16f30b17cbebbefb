import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  csvFieldToJson,
  csvInstance,
  csvNumber,
  csvRecordToJsonArray,
  parseCsvFields,
} from '../../../src/core/records/csv-instances.ts';

describe('parseCsvFields', () => {
  it('unquotes fields', () => {
    expect(parseCsvFields(Buffer.from('a,"b,c","say ""hi""",,"",é😀,"l1\r\nl2"'))).toEqual([
      'a',
      'b,c',
      'say "hi"',
      '',
      '',
      'é😀',
      'l1\r\nl2',
    ]);
    expect(parseCsvFields(Buffer.from(''))).toEqual(['']);
    expect(parseCsvFields(Buffer.from('a,'))).toEqual(['a', '']);
    expect(parseCsvFields(Buffer.from('"a",'))).toEqual(['a', '']);
  });

  it('is lenient with malformed quoting', () => {
    expect(parseCsvFields(Buffer.from('a"b,"c"d,"e'))).toEqual(['a"b', 'cd', 'e']);
  });
});

describe('CSV to JSON', () => {
  it('keeps number texts unchanged in precision', () => {
    expect(csvRecordToJsonArray(Buffer.from('1e400,0.1000000000000000055511,-0,12345678901234567890'))).toBe(
      '[1e400,0.1000000000000000055511,-0,12345678901234567890]',
    );
  });

  it('normalises the loosened number forms to JSON numbers', () => {
    expect(['+5', '.5', '-.5', '5.', '+5.e3', ' 7 ', '\t-2E-3', '1E+05'].map(csvNumber)).toEqual([
      '5',
      '0.5',
      '-0.5',
      '5',
      '5e3',
      '7',
      '-2E-3',
      '1E+05',
    ]);
    for (const text of ['', '.', '-', '+', '007', '1.2.3', '0x10', 'NaN', 'Infinity', '1e', '1_000', '١']) {
      expect(csvNumber(text)).toBeUndefined();
    }
  });

  it('writes non-numbers as JSON strings and empty fields as null', () => {
    expect(csvRecordToJsonArray(Buffer.from('abc,,"",007,"1,5"," ",true,"q""t"'))).toBe(
      '["abc",null,null,"007","1,5"," ","true","q\\"t"]',
    );
    expect(csvFieldToJson('é😀\n')).toBe('"é😀\\n"');
  });

  it('gives every JSON number its own text back', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()), (n) => {
        const text = JSON.stringify(n);
        expect(csvNumber(text)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^-?(0|[1-9]\d{0,30})(\.\d{1,30})?([eE][+-]?\d{1,4})?$/), (text) => {
        expect(csvNumber(text)).toBe(text);
        expect(JSON.parse(csvRecordToJsonArray(Buffer.from(`${text},x`)))).toEqual([JSON.parse(text), 'x']);
      }),
    );
  });

  it('makes a scalar of a one-column line and an array of several columns', () => {
    expect(csvInstance(['3.14'])).toBe('3.14');
    expect(csvInstance(['x'])).toBe('"x"');
    expect(csvInstance([''])).toBe('null');
    expect(csvInstance(['1', ' 2', 'a'])).toBe('[1,2,"a"]');
    expect(csvInstance([])).toBe('[]');
  });
});
