import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilterMismatchError, FilterSyntaxError, InvalidRecordError } from '../../../src/core/errors.ts';
import { compileJsonPath, type Selected } from '../../../src/core/json/path.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function select(expression: string, json: string | Buffer, start = 0, end?: number): string {
  const b = typeof json === 'string' ? Buffer.from(json) : json;
  const into: Selected = { bytes: Buffer.alloc(0), start: 0, end: 0 };
  compileJsonPath(expression).select(b, start, end ?? b.length, into);
  return into.bytes.toString('utf8', into.start, into.end);
}

describe('compileJsonPath selections', () => {
  it.each([
    ['$', ' {"a": 1} \n', '{"a": 1}'],
    ['$.a', '{"a": [1, 2]}', '[1, 2]'],
    ['$.a.b', '{"a": {"b": "x", "c": 1}}', '"x"'],
    ['$.a.b', '{"z": 0, "a": {"c": {"b": 9}, "b": [true]}}', '[true]'],
    ["$['a']", '{"a": null}', 'null'],
    ['$["a"]', '{"a": 1.5e3}', '1.5e3'],
    ["$['a','b']", '{"b": 2, "c": 3, "a": 1}', '{"a":1,"b":2}'],
    ["$['b', 'a']", '{"a": [1], "b": {"x": 2}}', '{"b":{"x": 2},"a":[1]}'],
    ["$['a','z','c']", '{"a": 1, "b": 2, "c": 3}', '{"a":1,"c":3}'],
    ['$[0]', '[5, 6, 7]', '5'],
    ['$[-1]', '[5, 6, 7]', '7'],
    ['$[-3]', '[5, 6, 7]', '5'],
    ['$[1:]', '[5, 6, 7]', '[6,7]'],
    ['$[:2]', '[5, 6, 7]', '[5,6]'],
    ['$[-2:]', '[5, 6, 7]', '[6,7]'],
    ['$[1:-1]', '[5, 6, 7]', '[6]'],
    ['$[2:1]', '[5, 6, 7]', '[]'],
    ['$[0:100]', '[5, 6, 7]', '[5,6,7]'],
    ['$[0,-1]', '[5, 6, 7]', '[5,7]'],
    ['$[0,5:]', '[0, 1, 2, 3, 4, 5, 6]', '[0,5,6]'],
    ['$[ 1 , 0 ]', '[5, 6, 7]', '[6,5]'],
    ['$[*]', '[5, [6], "7"]', '[5, [6], "7"]'],
    ['$[*]', '{"a": 1, "b": [2]}', '[1,[2]]'],
    ['$.*', '{"a": 1, "b": [2]}', '[1,[2]]'],
    ['$.*', '[1, 2]', '[1, 2]'],
    ['$.*', '{}', '[]'],
    ['$.a[1]', '{"a": [[1], [2, 3]]}', '[2, 3]'],
    ['$.a[1][0]', '{"a": [[1], [2, 3]]}', '2'],
    ['$[1].b', '[{"b": 1}, {"b": 2}]', '2'],
    ['$.features[*]', '{"features": [1, 2, 3], "id": 7}', '[1, 2, 3]'],
    ['$.instances[0:2]', '{"instances": [[1], [2], [3]]}', '[[1],[2]]'],
    ['$.a[0]', '{"a": [{"b64": "AA=="}, {"b64": "AQ=="}]}', '{"b64": "AA=="}'],
    ["$['image/encoded'][0]", '{"image/encoded": [{"b64": "/9j/"}], "label": [3]}', '{"b64": "/9j/"}'],
    ['$["image/encoded"][-1]', '{"image/encoded": [{"b64": "AA=="}, {"b64": "iVBO"}]}', '{"b64": "iVBO"}'],
  ])('%s of %j is %j', (expression, json, expected) => {
    expect(select(expression, json)).toBe(expected);
  });

  it('selects members whose keys are written with escapes', () => {
    expect(select(`$['a"b']`, '{"a\\"b": 1}')).toBe('1');
    expect(select('$["a\\"b"]', '{"x": 0, "a\\"b": 2}')).toBe('2');
    expect(select("$['it\\'s']", `{"it's": 3}`)).toBe('3');
    expect(select("$['a\\\\b']", '{"a\\\\b": 4}')).toBe('4');
    expect(select("$['é']", '{"\\u00e9": 5}')).toBe('5');
    expect(select("$['é']", '{"é": 6}')).toBe('6');
    expect(select("$['😀', 'a\"b']", '{"a\\"b": 1, "\\ud83d\\ude00": 2}')).toBe('{"😀":2,"a\\"b":1}');
    expect(select('$.ab', '{"a\\u0062": 7}')).toBe('7');
  });

  it("reads only the member a name in brackets starts with, as for tf.Example's image/encoded", () => {
    const path = compileJsonPath("$['image/encoded'][0]");
    expect(path.members).toEqual(['image/encoded']);
    expect(path.picksMembers).toBe(false);
    expect(() => select("$['image/encoded'][0]", '{"image/encoded": []}')).toThrow(
      "$['image/encoded'][0]: index 0 is out of range for 0 elements",
    );
  });

  it('does not take a longer or shorter key for the one asked', () => {
    expect(select('$.ab', '{"a": 1, "abc": 2, "ab": 3}')).toBe('3');
    expect(select('$.a', '{"ab": 1, "a": 2}')).toBe('2');
  });

  it('selects within a range of a larger buffer', () => {
    const b = Buffer.from('{"a": 0}\n {"a": [1, 2]} \n{"a": 3}');
    expect(select('$.a[1]', b, 9, 24)).toBe('2');
    expect(select('$', b, 9, 24)).toBe('{"a": [1, 2]}');
    expect(select('$[*]', Buffer.from('x[1, 2]  ]]'), 1, 9)).toBe('[1, 2]');
  });

  it('gives the span of a single value inside the input without copying it', () => {
    const b = Buffer.from('{"a": {"b": [1, 2]}}');
    const into: Selected = { bytes: Buffer.alloc(0), start: 0, end: 0 };
    compileJsonPath('$.a.b').select(b, 0, b.length, into);
    expect(into.bytes).toBe(b);
    expect([into.start, into.end]).toEqual([12, 18]);
  });

  it('leaves no white space around the selection', () => {
    expect(select('$[*]', '  [1, 2]  \n')).toBe('[1, 2]');
    expect(select('$.*', '\t[1]\r\n')).toBe('[1]');
    expect(select('$.a', ' { "a" :\n  [ 1 ]\n } ')).toBe('[ 1 ]');
  });

  it('reports whether it is the root', () => {
    expect(compileJsonPath('$').isRoot).toBe(true);
    expect(compileJsonPath('$.a').isRoot).toBe(false);
    expect(compileJsonPath('$.a').expression).toBe('$.a');
  });
});

describe('compileJsonPath mismatches', () => {
  it.each([
    ['$.a', '{"b": 1}'],
    ['$.a', '[1]'],
    ['$.a', '"a"'],
    ['$.a.b', '{"a": 1}'],
    ['$.a', '{}'],
    ['$[0]', '{"0": 1}'],
    ['$[0]', '[]'],
    ['$[3]', '[1, 2, 3]'],
    ['$[-4]', '[1, 2, 3]'],
    ['$[0,3]', '[1, 2, 3]'],
    ['$[1:]', '{"a": 1}'],
    ["$['a','b']", '{"c": 1}'],
    ["$['a','b']", '[1, 2]'],
    ['$[*]', '5'],
    ['$.*', 'null'],
  ])('%s of %j is a FilterMismatchError', (expression, json) => {
    const error = (() => {
      try {
        select(expression, json);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FilterMismatchError);
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error).toMatchObject({ name: 'FilterMismatchError' });
    expect(String((error as Error).message)).toContain(expression);
  });

  it('names what is out of range', () => {
    expect(() => select('$.v[5]', '{"v": [1, 2]}')).toThrow(/index 5 is out of range for 2 elements/);
    expect(() => select('$.v', '{"w": 1}')).toThrow(/no member 'v'/);
  });
});

describe('compileJsonPath syntax', () => {
  it.each([
    'a',
    '',
    '.a',
    '$.',
    '$a',
    '$..a',
    '$.1a',
    '$[',
    "$['a'",
    "$['a]",
    '$[a]',
    '$[]',
    '$[ ]',
    '$[1:2:3]',
    '$[1.5]',
    '$[0,]',
    "$['a',]",
    "$['a' 'b']",
    "$['a',,'b']",
    "$['a'b]",
    '$[?(@.a)]',
    '$[*].a',
    '$.*.a',
    '$.*[0]',
    '$[0,1].a',
    '$[1:][0]',
    "$['a','b'].c",
    '$.a b',
  ])('%j is a FilterSyntaxError', (expression) => {
    expect(() => compileJsonPath(expression)).toThrow(FilterSyntaxError);
  });

  it('keeps the expression in the error', () => {
    try {
      compileJsonPath('$[x]');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ name: 'FilterSyntaxError', expression: '$[x]' });
    }
  });
});

/** Selection in plain JavaScript, as the reference. */
type Step =
  | { kind: 'name'; name: string; style: 'dot' | 'single' | 'double' }
  | { kind: 'index'; index: number };
type Last =
  | { kind: 'none' }
  | { kind: 'names'; names: string[] }
  | { kind: 'items'; items: ({ index: number } | { start?: number; end?: number })[] }
  | { kind: 'wildcard'; style: 'dot' | 'bracket' };

const KEYS = ['a', 'b', 'c', '_x', 'a"b', "it's", 'a\\b', 'é', '😀', 'x y', '10'];
const isIdentifier = (name: string): boolean => /^[A-Za-z_$][\w$-]*$/.test(name);

function quote(name: string, mark: "'" | '"'): string {
  return `${mark}${name.replace(mark === "'" ? /[\\']/g : /[\\"]/g, '\\$&')}${mark}`;
}

function render(steps: readonly Step[], last: Last): string {
  let expression = '$';
  for (const step of steps) {
    if (step.kind === 'index') expression += `[${step.index}]`;
    else if (step.style === 'dot' && isIdentifier(step.name)) expression += `.${step.name}`;
    else expression += `[${quote(step.name, step.style === 'double' ? '"' : "'")}]`;
  }
  if (last.kind === 'names') expression += `[${last.names.map((n) => quote(n, "'")).join(', ')}]`;
  if (last.kind === 'items') {
    const items = last.items.map((item) =>
      'index' in item ? String(item.index) : `${item.start ?? ''}:${item.end ?? ''}`,
    );
    expression += `[${items.join(',')}]`;
  }
  if (last.kind === 'wildcard') expression += last.style === 'dot' ? '.*' : '[*]';
  return expression;
}

const MISMATCH = Symbol('mismatch');

function isObject(value: Json): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function at(array: Json[], index: number): number | undefined {
  const k = index < 0 ? array.length + index : index;
  return k >= 0 && k < array.length ? k : undefined;
}

/** The expected output as compact JSON, or MISMATCH. */
function expected(value: Json, steps: readonly Step[], last: Last): string | typeof MISMATCH {
  let current = value;
  for (const step of steps) {
    if (step.kind === 'name') {
      if (!isObject(current) || !Object.hasOwn(current, step.name)) return MISMATCH;
      current = current[step.name] as Json;
    } else {
      if (!Array.isArray(current)) return MISMATCH;
      const k = at(current, step.index);
      if (k === undefined) return MISMATCH;
      current = current[k] as Json;
    }
  }
  switch (last.kind) {
    case 'none':
      return JSON.stringify(current);
    case 'names': {
      if (!isObject(current)) return MISMATCH;
      const object = current;
      const [one] = last.names;
      if (last.names.length === 1 && one !== undefined) {
        // `['a']` alone selects the member's value itself.
        return Object.hasOwn(object, one) ? JSON.stringify(object[one]) : MISMATCH;
      }
      const present = last.names.filter((name) => Object.hasOwn(object, name));
      if (present.length === 0) return MISMATCH;
      return `{${present.map((name) => `${JSON.stringify(name)}:${JSON.stringify(object[name])}`).join(',')}}`;
    }
    case 'items': {
      if (!Array.isArray(current)) return MISMATCH;
      const [only] = last.items;
      if (last.items.length === 1 && only !== undefined && 'index' in only) {
        // `[n]` alone selects the element itself.
        const k = at(current, only.index);
        return k === undefined ? MISMATCH : JSON.stringify(current[k]);
      }
      const picked: Json[] = [];
      for (const item of last.items) {
        if ('index' in item) {
          const k = at(current, item.index);
          if (k === undefined) return MISMATCH;
          picked.push(current[k] as Json);
        } else {
          picked.push(...current.slice(item.start ?? 0, item.end ?? current.length));
        }
      }
      return JSON.stringify(picked);
    }
    case 'wildcard':
      if (Array.isArray(current)) return JSON.stringify(current);
      if (isObject(current)) return JSON.stringify(Object.values(current));
      return MISMATCH;
  }
}

const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json; array: Json[]; object: Record<string, Json> }>(
  (tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.string({
          unit: fc.constantFrom('a', '"', '\\', ']', '[', '{', '}', ',', ':', ' ', 'é'),
          maxLength: 4,
        }),
      ),
      tie('array'),
      tie('object'),
    ),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  }),
).value;

const index = fc.integer({ min: -4, max: 4 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('name' as const),
    name: fc.constantFrom(...KEYS),
    style: fc.constantFrom('dot' as const, 'single' as const, 'double' as const),
  }),
  fc.record({ kind: fc.constant('index' as const), index }),
);
/** Steps that mostly follow the members and elements the value has, sometimes ones it does not. */
function stepsInto(value: Json, depth: number): fc.Arbitrary<Step[]> {
  const options: fc.WeightedArbitrary<Step[]>[] = [
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: step.map((s) => [s]) },
  ];
  if (depth < 3 && isObject(value) && Object.keys(value).length > 0) {
    const style = fc.constantFrom('dot' as const, 'single' as const, 'double' as const);
    options.push({
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...Object.keys(value)), style)
        .chain(([name, how]) =>
          stepsInto(value[name] as Json, depth + 1).map((rest): Step[] => [
            { kind: 'name', name, style: how },
            ...rest,
          ]),
        ),
    });
  }
  if (depth < 3 && Array.isArray(value) && value.length > 0) {
    options.push({
      weight: 3,
      arbitrary: fc
        .tuple(fc.nat(value.length - 1), fc.boolean())
        .chain(([k, fromEnd]) =>
          stepsInto(value[k] as Json, depth + 1).map((rest): Step[] => [
            { kind: 'index', index: fromEnd ? k - value.length : k },
            ...rest,
          ]),
        ),
    });
  }
  return fc.oneof(...options);
}

const bound = fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined });
const last: fc.Arbitrary<Last> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('names' as const),
    names: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('items' as const),
    items: fc.array(
      fc.oneof(
        index.map((i) => ({ index: i })),
        fc.record({ start: bound, end: bound }, { requiredKeys: [] }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({
    kind: fc.constant('wildcard' as const),
    style: fc.constantFrom('dot' as const, 'bracket' as const),
  }),
);

/** The value the steps lead to, when they match. */
function reached(value: Json, steps: readonly Step[]): Json | undefined {
  const found = expected(value, steps, { kind: 'none' });
  return found === MISMATCH ? undefined : (JSON.parse(found) as Json);
}

/** A last selector that mostly fits the value it applies to. */
function lastFor(value: Json | undefined): fc.Arbitrary<Last> {
  if (value !== undefined && isObject(value) && Object.keys(value).length > 0) {
    const names = fc.uniqueArray(fc.constantFrom(...Object.keys(value), ...KEYS), {
      minLength: 2,
      maxLength: 4,
    });
    return fc.oneof(
      last,
      names.map((n): Last => ({ kind: 'names', names: n })),
    );
  }
  if (value !== undefined && Array.isArray(value) && value.length > 0) {
    const inRange = fc.integer({ min: -value.length, max: value.length - 1 }).map((i) => ({ index: i }));
    const items = fc.array(fc.oneof(inRange, fc.record({ start: bound, end: bound }, { requiredKeys: [] })), {
      minLength: 2,
      maxLength: 4,
    });
    return fc.oneof(
      last,
      items.map((i): Last => ({ kind: 'items', items: i })),
    );
  }
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<Last>({ kind: 'none' }) },
    { weight: 1, arbitrary: last },
  );
}

/** JSON with every non-ASCII character written as a \u escape. */
const asciiOnly = (text: string): string =>
  Array.from(text, (c) => {
    if (c.charCodeAt(0) < 0x80) return c;
    // Each UTF-16 unit on its own, so that a character outside the BMP becomes a surrogate pair.
    return Array.from(
      { length: c.length },
      (_, k) => `\\u${c.charCodeAt(k).toString(16).padStart(4, '0')}`,
    ).join('');
  }).join('');

function attempt(expression: string, b: Buffer, start = 0, end = b.length): string | typeof MISMATCH {
  try {
    return select(expression, b, start, end);
  } catch (e) {
    if (e instanceof FilterMismatchError) return MISMATCH;
    throw e;
  }
}

describe('compileJsonPath agrees with selecting in JavaScript', () => {
  // Values shaped so that paths hit: the top level is an object or an array.
  const record = fc.oneof(
    fc.dictionary(fc.constantFrom(...KEYS), json, { minKeys: 1, maxKeys: 6 }),
    fc.array(json, { minLength: 1, maxLength: 6 }),
  );
  const selection = record.chain((value) =>
    stepsInto(value, 0).chain((steps) =>
      lastFor(reached(value, steps)).map((tail): [Json, Step[], Last] => [value, steps, tail]),
    ),
  );

  it('gives exactly the compact JSON that JavaScript selects', () => {
    fc.assert(
      fc.property(selection, ([value, steps, tail]) => {
        const want = expected(value, steps, tail);
        expect(attempt(render(steps, tail), Buffer.from(JSON.stringify(value)))).toBe(want);
      }),
      { numRuns: 1500 },
    );
  });

  it('gives the same values from pretty-printed or escaped JSON inside a larger buffer', () => {
    const layout = fc.record({
      indent: fc.constantFrom(0, 1, 4),
      ascii: fc.boolean(),
      before: fc.constantFrom('', ' ', '\n\t', '{"other": [1]}\n'),
      after: fc.constantFrom('', ' ', '\r\n', '\n["x"]'),
    });
    fc.assert(
      fc.property(selection, layout, ([value, steps, tail], how) => {
        const want = expected(value, steps, tail);
        let text = JSON.stringify(value, null, how.indent);
        if (how.ascii) text = asciiOnly(text);
        const head = Buffer.from(how.before);
        const body = Buffer.from(text);
        const b = Buffer.concat([head, body, Buffer.from(how.after)]);
        const got = attempt(render(steps, tail), b, head.length, head.length + body.length);
        if (want === MISMATCH) expect(got).toBe(MISMATCH);
        else if (got === MISMATCH) expect.unreachable(`expected ${want}`);
        else expect(JSON.parse(got)).toEqual(JSON.parse(want));
      }),
      { numRuns: 1000 },
    );
  });
});
