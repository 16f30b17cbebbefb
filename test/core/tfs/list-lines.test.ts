import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../../src/core/tfs/list-lines.ts';

const scores = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 6 });
const listsText = (lists: number[][]): string => lists.map((list) => JSON.stringify(list)).join(',');

/** The lines of what `appendValues` appends for the content `text`, or its -1. */
function lines(text: string): string | -1 {
  const buffer = new LineBuffer();
  const b = Buffer.from(text);
  const count = buffer.appendValues(b, 0, b.length);
  const appended = Buffer.from(buffer.take()).toString();
  if (count === -1) {
    expect(appended).toBe('');
    return -1;
  }
  expect(appended.split('\n').length - 1).toBe(count);
  return appended;
}

/**
 * What `appendValues` must make of the content `text`: one line per value when `[text]` is a JSON list
 * of numbers, or of lists of numbers (as its first byte says), with no white space; otherwise -1. A
 * number may also be NaN, Infinity or -Infinity, standing alone as a value.
 */
function expectedLines(text: string): string | -1 {
  if (text.length === 0) return '';
  if (/\s/.test(text)) return -1;
  let values: unknown;
  try {
    values = JSON.parse(`[${text.replace(/(?<=^|[,[])(?:-?Infinity|NaN)(?=$|[,\]])/g, '0')}]`);
  } catch {
    return -1;
  }
  const lists = text.startsWith('[');
  const isNumber = (value: unknown): boolean => typeof value === 'number';
  const fits = (value: unknown): boolean =>
    lists ? Array.isArray(value) && value.every(isNumber) : isNumber(value);
  if (!(values as unknown[]).every(fits)) return -1;
  const separator = lists ? '],[' : ',';
  return `${text.split(separator).join(lists ? ']\n[' : '\n')}\n`;
}

/**
 * Numbers as models write them: signs, fractions, exponents with and without their sign, and the
 * non-finite ones.
 */
const numberText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.constantFrom('0', '1', '7', '10', '250'),
        fc.constantFrom('', '.0', '.5', '.012345'),
        fc.constantFrom('', 'e5', 'E+2', 'e-07', 'e+308'),
      )
      .map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity') },
);
const contentText = fc.oneof(
  fc.array(numberText, { minLength: 1, maxLength: 12 }).map((numbers) => numbers.join(',')),
  fc
    .array(fc.array(numberText, { maxLength: 5 }), { minLength: 1, maxLength: 6 })
    .map((lists) => lists.map((list) => `[${list.join(',')}]`).join(',')),
);
/** One byte put in, taken out or changed, from those that matter here and some that have no place. */
const edit = fc.tuple(
  fc.nat(),
  fc.constantFrom('insert', 'delete', 'replace'),
  fc.constantFrom(...'0123456789.,-+eE[] "\na{}:\0NIfinty'),
);

describe('LineBuffer', () => {
  it('keeps its own lines when other buffers are filled in between, as merges side by side do', () => {
    const a = new LineBuffer();
    const b = new LineBuffer();
    for (let k = 0; k < 3; k++) {
      const one = Buffer.from(listsText([[k, 1]]));
      const two = Buffer.from(
        listsText([
          [k, 2],
          [k, 3],
        ]),
      );
      a.appendValues(one, 0, one.length);
      b.appendValues(two, 0, two.length);
    }
    expect(Buffer.from(a.take()).toString()).toBe('[0,1]\n[1,1]\n[2,1]\n');
    expect(Buffer.from(b.take()).toString()).toBe('[0,2]\n[0,3]\n[1,2]\n[1,3]\n[2,2]\n[2,3]\n');
  });

  it('puts each flat list on its own line, response after response', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(scores, { minLength: 1, maxLength: 40 }), { maxLength: 5 }),
        (responses) => {
          const buffer = new LineBuffer();
          let total = 0;
          for (const lists of responses) {
            const text = Buffer.from(`x${listsText(lists)}y`);
            expect(buffer.appendValues(text, 1, text.length - 1)).toBe(lists.length);
            total += lists.length;
          }
          const expected = responses
            .flat()
            .map((list) => `${JSON.stringify(list)}\n`)
            .join('');
          expect(Buffer.from(buffer.take()).toString()).toBe(expected);
          expect(expected.split('\n').length - 1).toBe(total);
          expect(buffer.size).toBe(0);
        },
      ),
    );
  });

  it('puts each number on its own line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }),
        (numbers) => {
          const text = numbers.map((n) => JSON.stringify(n)).join(',');
          expect(lines(text)).toBe(numbers.map((n) => `${JSON.stringify(n)}\n`).join(''));
        },
      ),
    );
    expect(lines('-0.5e-3,7,1E+2,0')).toBe('-0.5e-3\n7\n1E+2\n0\n');
  });

  it.each([
    ['a list in a list', '[[1]],[2]'],
    ['a list in a later list', '[1],[2,[3]]'],
    ['a number among lists', '[1],2'],
    ['a list among numbers', '1,[2]'],
    ['a bracket too many', '[1,2]]'],
    ['a bracket too many after numbers', '1,2]'],
    ['a space between lists', '[1], [2]'],
    ['a space in a list', '[1, 2]'],
    ['a string', '["a]"],[2]'],
    ['a string after a list', '[1],["]"]'],
    ['a literal', '[true],[1]'],
    ['an empty value', '[1,,2]'],
    ['a comma before the end of a list', '[1,]'],
    ['a second point', '[1.2.3]'],
    ['a second exponent', '1e5e5'],
    ['a point in the exponent', '1e5.5'],
    ['a leading zero', '[0,01]'],
    ['a leading zero after a sign', '-01'],
    ['a sign alone', '[-]'],
    ['a point without digits before it', '[.5]'],
    ['a point without digits after it', '[1.]'],
    ['an exponent without digits', '[1e+]'],
    ['a sign inside a number', '[1-2]'],
    ['text after the last list', '[1],[2]x'],
    ...[
      'Nan',
      'nan',
      'Inf',
      'Infinit',
      '+Infinity',
      '-NaN',
      'NaNx',
      'NaN1',
      '1NaN',
      '--Infinity',
      'Infinity.5',
    ].flatMap((word) => [
      [`${word} among numbers`, `1,${word},2`],
      [`${word} alone`, word],
      [`${word} in a list`, `[1],[0.5,${word}]`],
    ]),
    ['-Infinity as an exponent', '1e-Infinity'],
  ])('refuses %s, appending nothing', (_, text) => {
    const buffer = new LineBuffer();
    buffer.append(Buffer.from('kept\n'), 0, 5);
    expect(buffer.appendValues(Buffer.from(text), 0, text.length)).toBe(-1);
    expect(Buffer.from(buffer.take()).toString()).toBe('kept\n');
  });

  it('agrees with JSON.parse on content with a byte put in, taken out or changed', () => {
    fc.assert(
      fc.property(contentText, fc.array(edit, { maxLength: 2 }), fc.nat(40), (content, edits, shift) => {
        // Prepare: the content at a varying place in its buffer, so blocks are cut everywhere.
        let text = content;
        for (const [at, how, c] of edits) {
          const k = at % (text.length + 1);
          text = text.slice(0, k) + (how === 'delete' ? '' : c) + text.slice(how === 'insert' ? k : k + 1);
        }
        const b = Buffer.from(`${'x'.repeat(shift)}${text}`);
        const buffer = new LineBuffer();
        // Act
        const count = buffer.appendValues(b, shift, b.length);
        // Assess
        const expected = expectedLines(text);
        const appended = Buffer.from(buffer.take()).toString();
        expect(count === -1 ? -1 : appended).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('passes NaN, Infinity and -Infinity through as written, wherever blocks are cut', () => {
    for (let shift = 0; shift < 140; shift++) {
      const before = '1,'.repeat(shift);
      expect(lines(`${before}NaN,-Infinity,Infinity`)).toBe(
        `${before.replaceAll(',', '\n')}NaN\n-Infinity\nInfinity\n`,
      );
      expect(lines(`[${before}NaN],[-Infinity,0.5],[Infinity]`)).toBe(
        `[${before}NaN]\n[-Infinity,0.5]\n[Infinity]\n`,
      );
      expect(lines(`${before}Infinity`)).toBe(`${before.replaceAll(',', '\n')}Infinity\n`);
      expect(lines(`${before}NaN,Nan`)).toBe(-1);
      expect(lines(`[${before}1],[-NaN]`)).toBe(-1);
    }
  });

  it('ends a list on a newline where the comma after it starts the next block', () => {
    for (let shift = 0; shift < 140; shift++) {
      const text = `[${'1,'.repeat(shift)}2],[3],[4]`;
      expect(lines(text)).toBe(`[${'1,'.repeat(shift)}2]\n[3]\n[4]\n`);
    }
  });

  it('grows past its first memory for large responses', () => {
    const list = JSON.stringify(Array.from({ length: 10 }, (_, k) => k / 7));
    const text = Buffer.from(Array(30_000).fill(list).join(','));
    const buffer = new LineBuffer();
    expect(buffer.appendValues(text, 0, text.length)).toBe(30_000);
    expect(buffer.take().length).toBe(text.length + 1);
  });
});
