import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countLines } from '../../../src/core/records/newlines.ts';

describe('countLines', () => {
  it('counts every line end and tells whether a line is empty, wherever the range starts', () => {
    const piece = fc.constantFrom('a', 'bc', 'é', '\n', '\r\n', '\r', ' ');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 80 }), fc.nat(20), (pieces, offset) => {
        const text = pieces.join('');
        const padded = Buffer.concat([Buffer.alloc(offset, 0x78), Buffer.from(text)]);
        const result = countLines(padded, offset, padded.length);
        expect(result.lines).toBe(text.split('\n').length - 1);
        // Lines as the range sees them: it starts right after a line end.
        const lines = text.split('\n').slice(0, -1);
        const empty = lines.some((line) => line === '' || line === '\r');
        if (empty) expect(result.empty).toBe(true);
        // It may also flag a line that starts with CR: a false alarm sends the range the slow way.
        if (!empty && !text.split('\n').some((line) => line.startsWith('\r')))
          expect(result.empty).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('handles ranges larger than its memory, growing it', () => {
    const big = Buffer.alloc(3 << 20, 0x61);
    for (let at = 99; at < big.length; at += 100) big[at] = 0x0a;
    expect(countLines(big, 0, big.length)).toEqual({
      lines: Math.floor(big.length / 100),
      empty: false,
    });
  });
});
