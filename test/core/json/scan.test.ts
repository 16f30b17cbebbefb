import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arrayElements,
  forEachMember,
  forEachScalar,
  skipString,
  skipValue,
  trimSpan,
} from '../../../src/core/json/scan.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings made of the characters that a byte scanner could mistake for structure. */
const trickyString = fc.string({
  unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', ',', ':', ' ', 'a', 'é', '😀', '\n'),
  maxLength: 6,
});
const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  trickyString,
);
const flatArray = fc.array(
  fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  ),
  { maxLength: 6 },
);
const element: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: flatArray },
  { weight: 2, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(flatArray, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(trickyString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(trickyString, flatArray, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
);

/** Serialises like JSON.stringify, with the given white space between all tokens. */
function spaced(value: Json, space: readonly string[]): string {
  let k = 0;
  const ws = (): string => (space.length === 0 ? '' : (space[k++ % space.length] as string));
  const write = (v: Json): string => {
    if (Array.isArray(v)) return `[${ws()}${v.map((item) => `${write(item)}${ws()}`).join(`,${ws()}`)}]`;
    if (v !== null && typeof v === 'object') {
      const members = Object.entries(v).map(
        ([key, item]) => `${JSON.stringify(key)}${ws()}:${ws()}${write(item)}${ws()}`,
      );
      return `{${ws()}${members.join(`,${ws()}`)}}`;
    }
    return JSON.stringify(v);
  };
  return write(value);
}
const whitespace = fc.array(fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 }), {
  maxLength: 4,
});

const normal = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const text = (b: Buffer, start: number, end: number): string => b.toString('utf8', start, end);
const spanTexts = (b: Buffer, spans: { starts: number[]; ends: number[] }): string[] =>
  spans.starts.map((start, k) => text(b, start, spans.ends[k] ?? -1));

describe('arrayElements', () => {
  it('gives each element of a compact array exactly as JSON.stringify writes it', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 10 }), (array) => {
        const b = Buffer.from(JSON.stringify(array));
        expect(spanTexts(b, arrayElements(b, 0, b.length))).toEqual(
          array.map((item) => JSON.stringify(item)),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('gives each element without the white space around it', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 8 }), whitespace, (array, space) => {
        const b = Buffer.from(spaced(array, space));
        const texts = spanTexts(b, arrayElements(b, 0, b.length));
        expect(texts.map((t) => JSON.parse(t))).toEqual(normal(array));
        for (const t of texts) expect(t.trim()).toBe(t);
      }),
      { numRuns: 400 },
    );
  });

  it('reads an array inside a larger buffer, whatever follows it', () => {
    const after = fc.constantFrom('', ']', '[', '"', '"]"', ',[1]]', ']]]', '["x"]', '{"a":[]}');
    fc.assert(
      fc.property(
        fc.string({ maxLength: 5 }),
        fc.array(element, { maxLength: 8 }),
        after,
        (before, array, tail) => {
          const head = Buffer.from(`${JSON.stringify(before)}:`);
          const json = Buffer.from(JSON.stringify(array));
          const b = Buffer.concat([head, json, Buffer.from(tail)]);
          const spans = arrayElements(b, head.length, head.length + json.length);
          expect(spanTexts(b, spans)).toEqual(array.map((item) => JSON.stringify(item)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    ['[]', []],
    ['[ \n ]', []],
    ['[[1,2],[3,4],[5,6]]', ['[1,2]', '[3,4]', '[5,6]']],
    ['[[], [1], []]', ['[]', '[1]', '[]']],
    ['[[1,[2]],[3]]', ['[1,[2]]', '[3]']],
    ['[["]"],["["],["\\""]]', ['["]"]', '["["]', '["\\""]']],
    ['[[1],"]",[2],"[",[3]]', ['[1]', '"]"', '[2]', '"["', '[3]']],
    ['[[1], {"a": [2, 3]}, [4]]', ['[1]', '{"a": [2, 3]}', '[4]']],
    ['[[{}],[{}, {}]]', ['[{}]', '[{}, {}]']],
    ['[ [ 1 , 2 ] , [ 3 ] ]', ['[ 1 , 2 ]', '[ 3 ]']],
    ['[\n  [0.1, 0.9],\n  [0.2, 0.8]\n]', ['[0.1, 0.9]', '[0.2, 0.8]']],
    ['[1, -2.5e3, true, null, "x"]', ['1', '-2.5e3', 'true', 'null', '"x"']],
  ])('splits %j', (json, expected) => {
    const b = Buffer.from(json);
    expect(spanTexts(b, arrayElements(b, 0, b.length))).toEqual(expected);
  });

  it('splits a long list of feature vectors', () => {
    const rows = Array.from({ length: 5000 }, (_, k) => [k, k / 3, -k - 1]);
    const b = Buffer.from(JSON.stringify(rows));
    const spans = arrayElements(b, 0, b.length);
    expect(spans.starts).toHaveLength(rows.length);
    expect(spanTexts(b, spans).map((t) => JSON.parse(t))).toEqual(rows);
  });
});

describe('skipValue', () => {
  it('ends each value where JSON.stringify ends it, whatever follows', () => {
    const follow = fc.constantFrom('', ',', ']', '}', ' ', '\n', '\r\n', '\t', ',"]"', ']["', ',[1]]');
    fc.assert(
      fc.property(element, follow, fc.boolean(), (value, tail, bounded) => {
        const json = Buffer.from(JSON.stringify(value));
        const b = Buffer.concat([Buffer.from('[ '), json, Buffer.from(tail)]);
        const end = bounded ? 2 + json.length : b.length;
        expect(skipValue(b, 2, end)).toBe(2 + json.length);
      }),
      { numRuns: 500 },
    );
  });

  it('skips values spread over white space', () => {
    fc.assert(
      fc.property(element, whitespace, (value, space) => {
        const json = spaced(value, space);
        const b = Buffer.from(`${json} ,0`);
        expect(skipValue(b, 0, b.length)).toBe(Buffer.byteLength(json));
      }),
      { numRuns: 300 },
    );
  });

  it('stops a number or literal at the end of the range', () => {
    const b = Buffer.from('12345');
    expect(skipValue(b, 0, 3)).toBe(3);
    expect(skipValue(Buffer.from('true]'), 0, 5)).toBe(4);
    expect(skipValue(Buffer.from('[1,2] [3]'), 0, 9)).toBe(5);
    expect(skipValue(Buffer.from('[1,"]"] '), 0, 8)).toBe(7);
  });
});

describe('skipString', () => {
  it('ends after the closing quote of any string, escapes included', () => {
    const unicode = fc.string({ unit: 'binary', maxLength: 12 });
    fc.assert(
      fc.property(fc.oneof(unicode, trickyString), fc.constantFrom('', '"', '\\"', ',"a"'), (value, tail) => {
        const json = Buffer.from(JSON.stringify(value));
        const b = Buffer.concat([json, Buffer.from(tail)]);
        expect(skipString(b, 0, b.length)).toBe(json.length);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['"a\\"b" x', 6],
    ['"a\\\\" x', 5],
    ['"\\\\\\"" x', 6],
    ['"" x', 2],
    ['"\\u0022" x', 8],
  ])('%j ends at %i', (json, end) => {
    const b = Buffer.from(json);
    expect(skipString(b, 0, b.length)).toBe(end);
  });

  it('stops at the end of the range for an unterminated string', () => {
    const b = Buffer.from('"abc" x');
    expect(skipString(b, 0, 3)).toBe(3);
  });
});

describe('forEachMember', () => {
  const object = fc.dictionary(fc.oneof(trickyString, fc.string({ unit: 'binary', maxLength: 4 })), element, {
    maxKeys: 6,
  });

  it('gives every key and value of an object, in order, with any white space', () => {
    fc.assert(
      fc.property(object, whitespace, fc.constantFrom('', ' ', ',1]'), (value, space, tail) => {
        const json = Buffer.from(spaced(value, space));
        const b = Buffer.concat([Buffer.from('['), json, Buffer.from(tail)]);
        const keys: string[] = [];
        const values: unknown[] = [];
        const end = forEachMember(b, 1, b.length, (ks, ke, vs, ve) => {
          keys.push(JSON.parse(`"${text(b, ks, ke)}"`));
          values.push(JSON.parse(text(b, vs, ve)));
          return true;
        });
        expect(keys).toEqual(Object.keys(value));
        expect(values).toEqual(Object.values(normal(value) as object));
        expect(end).toBe(1 + json.length);
      }),
      { numRuns: 300 },
    );
  });

  it('stops at the member for which the callback returns false, and says where its value ends', () => {
    const b = Buffer.from('{ "a" : [1,"}"] , "b":{"c":2}, "d":3 }');
    const seen: string[] = [];
    const end = forEachMember(b, 0, b.length, (ks, ke) => {
      seen.push(text(b, ks, ke));
      return seen.length < 2;
    });
    expect(seen).toEqual(['a', 'b']);
    expect(text(b, 0, end)).toBe('{ "a" : [1,"}"] , "b":{"c":2}');
  });

  it('gives nothing for an empty object and ends after it', () => {
    const b = Buffer.from('{ \n } ,');
    let calls = 0;
    expect(
      forEachMember(b, 0, b.length, () => {
        calls++;
        return true;
      }),
    ).toBe(5);
    expect(calls).toBe(0);
  });

  it('leaves keys as they are written, escapes included', () => {
    const b = Buffer.from('{"a\\"b":1,"\\u00e9":2}');
    const keys: string[] = [];
    forEachMember(b, 0, b.length, (ks, ke) => {
      keys.push(text(b, ks, ke));
      return true;
    });
    expect(keys).toEqual(['a\\"b', '\\u00e9']);
  });
});

describe('forEachScalar', () => {
  const scalarsOf = (b: Buffer, start = 0, end = b.length): string[] => {
    const texts: string[] = [];
    forEachScalar(b, start, end, (s, e) => texts.push(text(b, s, e)));
    return texts;
  };
  const flattened = (value: unknown): unknown[] =>
    value !== null && typeof value === 'object' ? Object.values(value).flatMap(flattened) : [value];

  it('gives the values of lists and objects at any depth, in the order written, with any white space', () => {
    fc.assert(
      fc.property(element, whitespace, (value, space) => {
        const b = Buffer.from(spaced(value, space));

        const scalars = scalarsOf(b).map((s) => JSON.parse(s));

        expect(scalars).toEqual(flattened(normal(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps numbers as written, leaves keys out, and stops at the end of the range', () => {
    const b = Buffer.from('{"a:" : [1.50, "x:y", 12345678901234567890], "b":{"c" :null,"d":true}} 7');

    expect(scalarsOf(b, 0, b.length - 2)).toEqual(['1.50', '"x:y"', '12345678901234567890', 'null', 'true']);
    expect(scalarsOf(Buffer.from(' -0.0e+5 '))).toEqual(['-0.0e+5']);
    expect(scalarsOf(Buffer.from('[[],{}]'))).toEqual([]);
  });

  it('gives NaN, Infinity and -Infinity whole, as numbers of model responses', () => {
    const b = Buffer.from('{"p": [NaN, -Infinity], "q": {"r": Infinity}, "s": "NaN", "t": null}');

    expect(scalarsOf(b)).toEqual(['NaN', '-Infinity', 'Infinity', '"NaN"', 'null']);
  });
});

describe('trimSpan', () => {
  it('drops JSON white space on both sides and nothing else', () => {
    const space = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r') });
    fc.assert(
      fc.property(space, fc.json(), space, (before, json, after) => {
        const b = Buffer.from(`x${before}${json}${after}x`);
        const [start, end] = trimSpan(b, 1, b.length - 1);
        expect(text(b, start, end)).toBe(json);
      }),
      { numRuns: 200 },
    );
  });

  it('gives an empty span for white space only', () => {
    const b = Buffer.from(' \t\r\n ');
    const [start, end] = trimSpan(b, 0, b.length);
    expect(end - start).toBe(0);
  });

  it('keeps characters that JSON does not count as white space', () => {
    const b = Buffer.from('\u00a0 1 \u000b');
    expect(text(b, ...trimSpan(b, 0, b.length))).toBe('\u00a0 1 \u000b');
  });
});
