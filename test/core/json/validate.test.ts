import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateJson, validateJsonWithNonFinite } from '../../../src/core/json/validate.ts';

const validate = (text: string | Buffer): number => {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  return validateJson(b, 0, b.length);
};

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** JSON texts with strings of any Unicode (as UTF-8), and the same texts pretty-printed. */
const jsonText = fc.oneof(
  fc.json({ stringUnit: 'grapheme' }),
  fc.json({ stringUnit: 'binary' }),
  fc.jsonValue({ stringUnit: 'grapheme' }).map((value) => JSON.stringify(value, null, 2)),
  fc.jsonValue().map((value) => JSON.stringify(value, null, '\t')),
);

/** Characters that matter to the grammar, plus some that never may appear outside strings. */
const grammarChar = fc.constantFrom(
  ...'{}[]",:\\ \t\n\r0123456789-+.eEtrufalsnbu/xAF',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  'é',
  '😀',
  '\u2028',
  '\ufeff',
);

type Mutation = { kind: 'delete' | 'insert' | 'replace'; at: number; char: string };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'insert', 'replace'),
  at: fc.nat(),
  char: grammarChar,
});

/** Applies edits on whole characters, so that the text stays valid UTF-8 once encoded. */
function mutate(text: string, mutations: readonly Mutation[]): string {
  const chars = Array.from(text);
  for (const { kind, at, char } of mutations) {
    const k = at % (chars.length + 1);
    if (kind === 'insert') chars.splice(k, 0, char);
    else if (k < chars.length) chars.splice(k, 1, ...(kind === 'replace' ? [char] : []));
  }
  return chars.join('');
}

/** Snippets that combine into texts that are often almost JSON. */
const token = fc.constantFrom(
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  ' ',
  '\n',
  '"a"',
  '"',
  '\\',
  '\\u',
  '00e9',
  'd800',
  '"\\n"',
  '"\\ud83d"',
  '0',
  '1',
  '-',
  '.',
  'e',
  '+',
  'E-',
  'true',
  'tru',
  'null',
  'false',
  '"é"',
  '\t',
  '\u0000',
);

describe('validateJson agrees with JSON.parse', () => {
  it('accepts every JSON text, compact or pretty-printed', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(validate(text)).toBe(-1);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts a JSON text with white space around it', () => {
    const space = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r') });
    fc.assert(
      fc.property(space, fc.json(), space, (before, text, after) => {
        expect(validate(before + text + after)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts and rejects the same texts after random edits', () => {
    fc.assert(
      fc.property(jsonText, fc.array(mutation, { minLength: 1, maxLength: 4 }), (text, edits) => {
        const edited = mutate(text, edits);
        expect(validate(edited) === -1).toBe(parses(edited));
      }),
      { numRuns: 1500 },
    );
  });

  it('accepts and rejects the same texts made of grammar snippets', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), (tokens) => {
        const text = tokens.join('');
        expect(validate(text) === -1).toBe(parses(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts lone surrogates written as \\u escapes, as JSON.parse does', () => {
    for (const text of ['"\\ud800"', '["\\udfff", "\\uDC00x"]', '{"\\ud83d": 1}']) {
      expect(parses(text)).toBe(true);
      expect(validate(text)).toBe(-1);
    }
  });
});

describe('validateJson error offsets', () => {
  it.each([
    ['[1,]', 3],
    ['{"a" 1}', 5],
    ['{"a":1,}', 7],
    ['{"a":1 "b":2}', 7],
    ['{1:2}', 1],
    ['[1,,2]', 3],
    ['[1 2]', 3],
    ['[}', 1],
    ['{]', 1],
    ['{}}', 2],
    ['[1]x', 3],
    ['1 2', 2],
    ['01', 1],
    ['-a', 1],
    ['+1', 0],
    ['.5', 0],
    ['1.e5', 2],
    ['  x', 2],
    ['trUe', 2],
    ['nulL', 3],
    ['"\\x"', 2],
    ['"\\u12G4"', 5],
    ['"a\tb"', 2],
    ['"a\u0000"', 2],
    ['[é]', 1],
    ['["é", x]', 7],
    ['\ufeff{}', 0],
  ])('%j fails at byte %i', (text, offset) => {
    expect(validate(text)).toBe(offset);
  });

  it.each([
    ['', 0],
    ['   ', 3],
    ['[1,2', 4],
    ['{"a":', 5],
    ['{"a"', 4],
    ['"abc', 4],
    ['"\\u12', 5],
    ['tru', 3],
    ['-', 1],
    ['1.', 2],
    ['1e', 2],
    ['1e+', 3],
  ])('%j is incomplete: the offset is its length, %i', (text, length) => {
    expect(validate(text)).toBe(length);
  });

  it('reports an offset consistent with the text before it', () => {
    fc.assert(
      fc.property(jsonText, fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, edits) => {
        const b = Buffer.from(mutate(text, edits));
        const offset = validateJson(b, 0, b.length);
        if (offset === -1 || offset === b.length) return;
        // The bytes before the offending one are a valid start, and adding it breaks them.
        expect([-1, offset]).toContain(validateJson(b, 0, offset));
        expect(validateJson(b, 0, offset + 1)).toBe(offset);
      }),
      { numRuns: 500 },
    );
  });
});

describe('validateJson limits', () => {
  it('validates 200000 nested arrays and objects without a stack overflow', () => {
    const depth = 200_000;
    expect(validate(`${'['.repeat(depth)}${']'.repeat(depth)}`)).toBe(-1);
    expect(validate(`${'{"a":['.repeat(depth / 2)}1${']}'.repeat(depth / 2)}`)).toBe(-1);
    expect(validate(`${'['.repeat(depth)}${']'.repeat(depth - 1)}`)).toBe(2 * depth - 1);
    expect(validate(`${'['.repeat(depth)}}`)).toBe(depth);
  });

  it('validates a range of a larger buffer, with offsets counted from its start', () => {
    const b = Buffer.from('xx[1,2]yy');
    expect(validateJson(b, 2, 7)).toBe(-1);
    expect(validateJson(b, 2, 6)).toBe(4);
    expect(validateJson(b, 3, 4)).toBe(-1);
    expect(validateJson(b, 1, 7)).toBe(0);
    expect(validateJson(Buffer.from('zz[1,]'), 2, 6)).toBe(3);
    expect(validateJson(Buffer.from('[[1]]'), 1, 4)).toBe(-1);
  });

  it('validates any JSON text placed anywhere in a larger buffer', () => {
    const garbage = fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes));
    fc.assert(
      fc.property(garbage, jsonText, garbage, (before, text, after) => {
        const json = Buffer.from(text);
        const b = Buffer.concat([before, json, after]);
        expect(validateJson(b, before.length, before.length + json.length)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it('validates records larger than 64 KiB, and finds errors far into them', () => {
    const numbers = JSON.stringify(Array.from({ length: 100_000 }, (_, k) => k * 1.5 - 7));
    expect(numbers.length).toBeGreaterThan(65_536 * 8);
    expect(validate(numbers)).toBe(-1);
    const broken = Buffer.from(numbers);
    const at = broken.indexOf(',', 600_000);
    broken[at] = 0x3a;
    expect(validate(broken)).toBe(at);
    const long = JSON.stringify({ text: 'é😀"\\'.repeat(60_000), list: [true, null] });
    expect(validate(long)).toBe(-1);
    expect(validate(long.slice(0, -1))).toBe(Buffer.byteLength(long) - 1);
  });

  it('validates records right at the 64 KiB boundary', () => {
    for (const size of [65_535, 65_536, 65_537, 3 * 65_536 + 1]) {
      const text = `"${'a'.repeat(size - 2)}"`;
      expect(validate(text)).toBe(-1);
      expect(validate(`${text.slice(0, -1)}\u0001`)).toBe(size - 1);
    }
  });

  it('is not affected by the records validated before', () => {
    expect(validate(`[${'1'.repeat(5000)}]`)).toBe(-1);
    expect(validate('[1')).toBe(2);
    expect(validate('"abc')).toBe(4);
    expect(validate(`{"a":"${'x'.repeat(200_000)}"}`)).toBe(-1);
    expect(validate('{"a":"x')).toBe(7);
    expect(validate('12')).toBe(-1);
  });
});

describe('validateJsonWithNonFinite', () => {
  const validateNonFinite = (text: string): number => {
    const b = Buffer.from(text);
    return validateJsonWithNonFinite(b, 0, b.length);
  };
  /** JSON.parse, once each NaN, Infinity and -Infinity that stands where a value may is made a 0. */
  const parsesNonFinite = (text: string): boolean =>
    parses(text.replace(/(?<=^|[ \t\n\r,[:])(?:-?Infinity|NaN)(?=$|[ \t\n\r,\]}])/g, '0'));
  const nonFiniteToken = fc.oneof(
    token,
    fc.constantFrom(
      'NaN',
      'Infinity',
      '-Infinity',
      'Nan',
      'nan',
      'Inf',
      'inf',
      '+Infinity',
      'N',
      'I',
      'a',
      'y',
    ),
  );

  it.each([
    'NaN',
    'Infinity',
    '-Infinity',
    ' NaN\n',
    '[NaN,-Infinity,Infinity]',
    '[ NaN , 1 ]',
    '[[NaN],[0.5,Infinity]]',
    '{"p":NaN,"q":[-Infinity],"r":{"s":Infinity}}',
  ])('accepts %j, which validateJson refuses', (text) => {
    expect(validateNonFinite(text)).toBe(-1);
    expect(validate(text)).not.toBe(-1);
  });

  it.each([
    ['[Nan]', 3],
    ['[nan]', 2],
    ['[Inf]', 4],
    ['[Infinit]', 8],
    ['[+Infinity]', 1],
    ['[-NaN]', 2],
    ['[NaNx]', 4],
    ['[NaN1]', 4],
    ['[1NaN]', 2],
    ['[--Infinity]', 2],
    ['[- Infinity]', 2],
    ['[Infinity.5]', 9],
    ['[1e-Infinity]', 4],
    ['{"a":-NaN}', 6],
    ['{NaN:1}', 1],
  ])('%j fails at byte %i', (text, offset) => {
    expect(validateNonFinite(text)).toBe(offset);
  });

  it('accepts every JSON text, and the JSON texts validateJson accepts', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(validateNonFinite(text)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts and rejects the same texts as JSON.parse with the three words made numbers', () => {
    fc.assert(
      fc.property(fc.array(nonFiniteToken, { maxLength: 14 }), (tokens) => {
        const text = tokens.join('');
        expect(validateNonFinite(text) === -1).toBe(parsesNonFinite(text));
      }),
      { numRuns: 4000 },
    );
  });

  it('takes the words in strings as strings, as both variants do', () => {
    expect(validateNonFinite('{"NaN":"Infinity"}')).toBe(-1);
    expect(validate('{"NaN":"Infinity"}')).toBe(-1);
  });

  it('leaves validateJson as strict as before, whichever is used first', () => {
    expect(validateNonFinite('[NaN]')).toBe(-1);
    expect(validate('[NaN]')).toBe(1);
    expect(validate('{"a":Infinity}')).toBe(5);
    expect(validate('-Infinity')).toBe(1);
    expect(validateNonFinite('[NaN]')).toBe(-1);
  });
});
