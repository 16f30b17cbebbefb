import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../../src/core/tfs/list-lines.ts';

const scores = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 6 });

describe('LineBuffer', () => {
  it('keeps its own lines when other buffers are filled in between, as merges side by side do', () => {
    const a = new LineBuffer();
    const b = new LineBuffer();
    const text = (lists: number[][]) => Buffer.from(lists.map((list) => JSON.stringify(list)).join(','));
    for (let k = 0; k < 3; k++) {
      a.appendLists(text([[k, 1]]), 0, text([[k, 1]]).length);
      b.appendLists(
        text([
          [k, 2],
          [k, 3],
        ]),
        0,
        text([
          [k, 2],
          [k, 3],
        ]).length,
      );
    }
    expect(Buffer.from(a.take()).toString()).toBe('[0,1]\n[1,1]\n[2,1]\n');
    expect(Buffer.from(b.take()).toString()).toBe('[0,2]\n[0,3]\n[1,2]\n[1,3]\n[2,2]\n[2,3]\n');
  });

  it('puts each flat list on its own line, response after response', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(scores, { minLength: 1, maxLength: 40 }), { maxLength: 5 }),
        (responses) => {
          const lines = new LineBuffer();
          let total = 0;
          for (const lists of responses) {
            const text = Buffer.from(`x${lists.map((list) => JSON.stringify(list)).join(',')}y`);
            expect(lines.appendLists(text, 1, text.length - 1)).toBe(lists.length);
            total += lists.length;
          }
          const expected = responses
            .flat()
            .map((list) => `${JSON.stringify(list)}\n`)
            .join('');
          expect(Buffer.from(lines.take()).toString()).toBe(expected);
          expect(expected.split('\n').length - 1).toBe(total);
          expect(lines.size).toBe(0);
        },
      ),
    );
  });

  it('refuses nested lists, numbers or strings among lists and spaced separators, appending nothing', () => {
    const lines = new LineBuffer();
    lines.append(Buffer.from('kept\n'), 0, 5);
    for (const text of [
      '[[1]],[2]',
      '[1],2',
      '[1], [2]',
      '[1],[2,[3]]',
      '1,[2]',
      '["a]"],[2]',
      '[1],["]"]',
    ]) {
      expect(lines.appendLists(Buffer.from(text), 0, text.length)).toBe(-1);
    }
    expect(Buffer.from(lines.take()).toString()).toBe('kept\n');
  });

  it('grows past its first memory for large responses', () => {
    const list = JSON.stringify(Array.from({ length: 10 }, (_, k) => k / 7));
    const text = Buffer.from(Array(30_000).fill(list).join(','));
    const lines = new LineBuffer();
    expect(lines.appendLists(text, 0, text.length)).toBe(30_000);
    expect(lines.take().length).toBe(text.length + 1);
  });
});
