import type { SchemaElement, SchemaTree } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { columnWriter, typeName } from '../../../src/core/records/parquet-json.ts';

// Annotations the Arrow writer of the other tests does not produce (Parquet's JSON, UUID, ENUM and
// BSON, legacy unsigned and repeated fields), on the physical values hyparquet hands over for them.

function column(element: Omit<SchemaElement, 'name'>): SchemaTree {
  return {
    element: { name: 'c', repetition_type: 'OPTIONAL', ...element },
    children: [],
    count: 1,
    path: ['c'],
  };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('Parquet values as JSON', () => {
  it('writes JSON columns as the JSON they hold, on one line, and text that is not JSON as a string', () => {
    const write = columnWriter(column({ type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } }));

    expect(write([bytes('{\n  "a": [1, 12345678901234567890]\n}'), bytes('not json'), null])).toEqual([
      '{   "a": [1, 12345678901234567890] }',
      '"not json"',
      'null',
    ]);
  });

  it('writes UUIDs and enums as strings, BSON and unannotated binary as b64', () => {
    const uuid = Uint8Array.from([
      0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00,
    ]);

    expect(
      columnWriter(column({ type: 'FIXED_LEN_BYTE_ARRAY', logical_type: { type: 'UUID' } }))([uuid]),
    ).toEqual(['"123e4567-e89b-12d3-a456-426614174000"']);
    expect(columnWriter(column({ type: 'BYTE_ARRAY', converted_type: 'ENUM' }))([bytes('RED')])).toEqual([
      '"RED"',
    ]);
    expect(
      columnWriter(column({ type: 'BYTE_ARRAY', converted_type: 'BSON' }))([Uint8Array.of(5, 0)]),
    ).toEqual(['{"b64":"BQA="}']);
  });

  it('writes legacy unsigned integers from their signed physical values', () => {
    expect(columnWriter(column({ type: 'INT32', converted_type: 'UINT_32' }))([-1, 7])).toEqual([
      '4294967295',
      '7',
    ]);
    expect(columnWriter(column({ type: 'INT64', converted_type: 'UINT_64' }))([-1n])).toEqual([
      '18446744073709551615',
    ]);
  });

  it('writes a repeated field outside a LIST annotation as a list, and names its type', () => {
    const repeated = column({ type: 'INT64', repetition_type: 'REPEATED' });

    expect(columnWriter(repeated)([[1n, 9007199254740993n], []])).toEqual(['[1,9007199254740993]', '[]']);
    expect(typeName(repeated)).toBe('repeated int64');
  });
});
