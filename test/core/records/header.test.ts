import { describe, expect, it } from 'vitest';
import { HeaderReader } from '../../../src/core/records/header.ts';

/** A reader whose headers are kept: as handed over, and copied (the handed-over bytes are reused). */
function headerReader(size: number): { reader: HeaderReader; given: Buffer[]; headers: string[] } {
  const given: Buffer[] = [];
  const headers: string[] = [];
  const reader = new HeaderReader(size, (header) => {
    given.push(header);
    headers.push(header.toString());
  });
  return { reader, given, headers };
}

describe('HeaderReader', () => {
  it('hands over a header wholly inside a chunk as a view of it, and stops after it', () => {
    const { reader, given, headers } = headerReader(4);
    const chunk = Buffer.from('abcdefg');
    expect(reader.read(chunk, 1)).toBe(5);
    expect(headers).toEqual(['bcde']);
    expect(given[0]?.buffer).toBe(chunk.buffer);
    expect(reader.atStart).toBe(true);
  });

  it('gathers a header split across chunks and hands it over once complete', () => {
    const { reader, headers } = headerReader(4);
    expect(reader.read(Buffer.from('xa'), 1)).toBe(2);
    expect(reader.atStart).toBe(false);
    expect(reader.partial().toString()).toBe('a');
    expect(reader.read(Buffer.from('b'), 0)).toBe(1);
    expect(headers).toEqual([]);
    expect(reader.read(Buffer.from('cdz'), 0)).toBe(2);
    expect(headers).toEqual(['abcd']);
    expect(reader.atStart).toBe(true);
  });

  it('forgets a header begun when cleared', () => {
    const { reader, headers } = headerReader(3);
    reader.read(Buffer.from('ab'), 0);
    reader.clear();
    expect(reader.partial()).toHaveLength(0);
    reader.read(Buffer.from('xyz'), 0);
    expect(headers).toEqual(['xyz']);
  });
});
