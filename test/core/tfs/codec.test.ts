import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordTooLargeError, ResponseFormatError } from '../../../src/core/errors.ts';
import {
  b64,
  columnarRequest,
  examplesRequest,
  instancesRequest,
  packRequests,
  requestSize,
  splitResponse,
  type TfsMethod,
} from '../../../src/core/tfs/codec.ts';

const bytes = (...items: string[]): Buffer[] => items.map((item) => Buffer.from(item));

function outputs(
  response: string | Buffer,
  method: TfsMethod = 'predict',
  start = 0,
  end?: number,
): string[] {
  const b = typeof response === 'string' ? Buffer.from(response) : response;
  const { spans, assembled } = splitResponse(b, start, end ?? b.length, method);
  const source = assembled ?? b;
  return spans.starts.map((s, k) => source.toString('utf8', s, spans.ends[k]));
}

function failure(run: () => unknown): Error {
  try {
    run();
  } catch (e) {
    if (e instanceof Error) return e;
  }
  throw new Error('expected a failure');
}

describe('requests', () => {
  it('wraps instances as they are', () => {
    expect(instancesRequest([]).toString()).toBe('{"instances":[]}');
    expect(instancesRequest(bytes('[1, 2]', '{"a": "é"}', '3')).toString()).toBe(
      '{"instances":[[1, 2],{"a": "é"},3]}',
    );
  });

  it('builds a body whose size requestSize predicts', () => {
    fc.assert(
      fc.property(fc.array(fc.json(), { maxLength: 8 }), (items) => {
        const instances = items.map((item) => Buffer.from(item));
        const body = instancesRequest(instances);
        const total = instances.reduce((sum, item) => sum + item.length, 0);
        expect(body.length).toBe(requestSize(total, instances.length));
        expect(JSON.parse(body.toString())).toEqual({ instances: items.map((item) => JSON.parse(item)) });
      }),
      { numRuns: 100 },
    );
  });

  it('wraps examples, with the signature name when given', () => {
    expect(examplesRequest(bytes('{"x": [1]}')).toString()).toBe('{"examples":[{"x": [1]}]}');
    expect(JSON.parse(examplesRequest(bytes('{"x": 1}', '{"x": 2}'), 'serving_default').toString())).toEqual({
      signature_name: 'serving_default',
      examples: [{ x: 1 }, { x: 2 }],
    });
  });

  it('writes a signature name with any characters as valid UTF-8 JSON', () => {
    for (const name of ['classify_é', 'モデル', 'a"b\\c', '😀']) {
      const body = examplesRequest(bytes('{}'), name);
      expect(JSON.parse(body.toString('utf8'))).toEqual({ signature_name: name, examples: [{}] });
    }
  });

  it('turns object instances into one list per input', () => {
    const body = columnarRequest(
      bytes('{"image": [1, 2], "mask": true}', '{"image": [3, 4], "mask": false}'),
    );
    expect(body.toString()).toBe('{"inputs":{"image":[[1, 2],[3, 4]],"mask":[true,false]}}');
  });

  it('sends other instances as one list', () => {
    expect(columnarRequest(bytes('[1, 2]', '[3, 4]')).toString()).toBe('{"inputs":[[1, 2],[3, 4]]}');
    expect(columnarRequest(bytes('"a"', '"b"')).toString()).toBe('{"inputs":["a","b"]}');
    expect(JSON.parse(columnarRequest([]).toString())).toEqual({ inputs: [] });
  });

  it('copies input values without changing their digits', () => {
    const body = columnarRequest(
      bytes('{"id": 12345678901234567890, "x": 1.0, "y": 1e400}', '{"id": -0, "x": 2.50, "y": 1E-7}'),
    );
    expect(body.toString()).toBe(
      '{"inputs":{"id":[12345678901234567890,-0],"x":[1.0,2.50],"y":[1e400,1E-7]}}',
    );
  });

  it('reads input names written with escapes or white space', () => {
    const body = columnarRequest(
      bytes('{"a\\"b": 1, "\\u00e9": [2]}', ' { "é" : [3] ,\n "a\\u0022b" : 4 } '),
    );
    expect(JSON.parse(body.toString())).toEqual({ inputs: { 'a"b': [1, 4], é: [[2], [3]] } });
  });

  it('agrees with a transposition in JavaScript', () => {
    const row = fc.record({ a: fc.jsonValue(), 'b c': fc.jsonValue(), é: fc.jsonValue() });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 5 }), (rows) => {
        const body = columnarRequest(rows.map((r) => Buffer.from(JSON.stringify(r))));
        const normal = JSON.parse(JSON.stringify(rows)) as Record<string, unknown>[];
        const columns = Object.fromEntries(
          Object.keys(rows[0] ?? {}).map((name) => [name, normal.map((r) => r[name])]),
        );
        expect(JSON.parse(body.toString())).toEqual({ inputs: columns });
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    [['{"a": 1, "b": 2}', '{"a": 3}'], /instance 2 does not have all the inputs/],
    [['{"a": 1, "b": 2}', '{"a": 3, "b": 4}', '{"b": 5}'], /instance 3 does not have all the inputs/],
    [['{"a": 1}', '{"a": 3, "b": 4}'], /instance 2 has input "b", which the first does not/],
    [['{"a": 1}', '{"b": 3}'], /instance 2 has input "b"/],
    [['{"a": 1}', '[1]'], /instance 2 is not an object/],
    [['{"a": 1}', '5'], /instance 2 is not an object/],
    [['{"a": 1, "a": 2}'], /instance 1 has input "a" more than once/],
  ])('refuses instances %j whose inputs differ', (instances, message) => {
    const error = failure(() => columnarRequest(bytes(...instances)));
    expect(error).toBeInstanceOf(ResponseFormatError);
    expect(error.message).toMatch(message);
  });

  it('writes binary data in the b64 form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (data) => {
        const value = JSON.parse(b64(data)) as { b64: string };
        expect(Object.keys(value)).toEqual(['b64']);
        expect(Buffer.from(value.b64, 'base64')).toEqual(Buffer.from(data));
      }),
      { numRuns: 100 },
    );
    expect(b64(Buffer.from('hi'))).toBe('{"b64":"aGk="}');
  });
});

describe('packRequests', () => {
  const itemSizes = fc.array(fc.nat(60), { maxLength: 30 });
  const limit = fc.integer({ min: 16, max: 200 });
  const strategy = fc.constantFrom('SingleRecord' as const, 'MultiRecord' as const);

  it('packs every item, in order, into requests within the limit', () => {
    fc.assert(
      fc.property(itemSizes, limit, strategy, (sizes, maxBytes, how) => {
        const tooLarge = sizes.findIndex((size) => requestSize(size, 1) > maxBytes);
        if (tooLarge !== -1) {
          const error = failure(() => packRequests(sizes, maxBytes, how));
          expect(error).toBeInstanceOf(RecordTooLargeError);
          expect(error).toMatchObject({ size: requestSize(sizes[tooLarge] ?? 0, 1), limit: maxBytes });
          expect(error.message).toContain(`record ${tooLarge + 1} cannot be sent:`);
          return;
        }
        const batches = packRequests(sizes, maxBytes, how);
        let next = 0;
        for (const { start, end } of batches) {
          expect(start).toBe(next);
          expect(end).toBeGreaterThan(start);
          if (how === 'SingleRecord') expect(end - start).toBe(1);
          const total = sizes.slice(start, end).reduce((sum, size) => sum + size, 0);
          expect(requestSize(total, end - start)).toBeLessThanOrEqual(maxBytes);
          if (how === 'MultiRecord' && end < sizes.length) {
            // A request is only closed when the next item does not fit in it.
            expect(requestSize(total + (sizes[end] ?? 0), end - start + 1)).toBeGreaterThan(maxBytes);
          }
          next = end;
        }
        expect(next).toBe(sizes.length);
      }),
      { numRuns: 500 },
    );
  });

  it('builds request bodies within the limit', () => {
    const instances = bytes('[1,2,3]', '[4,5,6]', '[7,8,9]', '[10,11,12]', '[13]');
    const maxBytes = requestSize(7 + 7, 2);
    const batches = packRequests(
      instances.map((i) => i.length),
      maxBytes,
      'MultiRecord',
    );
    expect(batches).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 3 },
      { start: 3, end: 5 },
    ]);
    for (const { start, end } of batches) {
      expect(instancesRequest(instances.slice(start, end)).length).toBeLessThanOrEqual(maxBytes);
    }
  });

  it('gives no request for no items', () => {
    expect(packRequests([], 100, 'MultiRecord')).toEqual([]);
  });

  it('accepts an item that exactly fills a request', () => {
    expect(packRequests([84, 1], 100, 'MultiRecord')).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
    ]);
    expect(() => packRequests([1, 85], 100, 'SingleRecord')).toThrow(RecordTooLargeError);
  });
});

describe('splitResponse', () => {
  it('splits predictions', () => {
    expect(outputs('{"predictions": [[0.1, 0.9], [0.2, 0.8]]}')).toEqual(['[0.1, 0.9]', '[0.2, 0.8]']);
    expect(outputs('{"predictions": []}')).toEqual([]);
    expect(outputs('{"predictions":[1,"a",{"k":[2]},null]}')).toEqual(['1', '"a"', '{"k":[2]}', 'null']);
  });

  it('splits the pretty-printed responses TFS writes', () => {
    expect(outputs('{\n    "predictions": [[0.1, 0.9], [0.2, 0.8]\n    ]\n}')).toEqual([
      '[0.1, 0.9]',
      '[0.2, 0.8]',
    ]);
    const pretty = JSON.stringify(
      { predictions: [{ scores: [0.5, 0.5], label: 'a]' }, { scores: [1, 0] }] },
      null,
      4,
    );
    expect(outputs(`\n${pretty}\n`).map((o) => JSON.parse(o))).toEqual([
      { scores: [0.5, 0.5], label: 'a]' },
      { scores: [1, 0] },
    ]);
  });

  it('finds the outputs after other members', () => {
    expect(outputs('{"model_version": "3", "meta": {"predictions": 1}, "predictions": [7, 8]}')).toEqual([
      '7',
      '8',
    ]);
  });

  it('splits a list of columnar outputs', () => {
    expect(outputs('{"outputs": [[1, 2], [3, 4]]}')).toEqual(['[1, 2]', '[3, 4]']);
    expect(outputs('{ "outputs" : [ 0.5 , 0.25 ] }')).toEqual(['0.5', '0.25']);
  });

  it('turns a map of columnar outputs into one object per record, keeping every digit', () => {
    const response = '{"outputs": {"scores": [[0.1, 0.9], [0.7, 0.3]], "ids": [12345678901234567890, 2.50]}}';
    expect(outputs(response)).toEqual([
      '{"scores":[0.1, 0.9],"ids":12345678901234567890}',
      '{"scores":[0.7, 0.3],"ids":2.50}',
    ]);
    expect(outputs('{"outputs": {"a\\"b": ["x", "y"]}}')).toEqual(['{"a\\"b":"x"}', '{"a\\"b":"y"}']);
    expect(outputs('{"outputs": {}}')).toEqual([]);
  });

  it('agrees with a transposition in JavaScript for maps of outputs', () => {
    const names = fc.uniqueArray(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(names, fc.nat(5), fc.integer({ min: 0, max: 4 }), (keys, rows, indent) => {
        const columns = Object.fromEntries(
          keys.map((key, k) => [key, Array.from({ length: rows }, (_, r) => [k, r, `${key}]`])]),
        );
        const response = JSON.stringify({ model_version: '1', outputs: columns }, null, indent);
        const expected = Array.from({ length: rows }, (_, r) =>
          Object.fromEntries(keys.map((key) => [key, columns[key]?.[r]])),
        );
        expect(outputs(response).map((o) => JSON.parse(o))).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('agrees with JSON.parse on the predictions of any response', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.integer({ min: 0, max: 4 }),
        (values, indent) => {
          const response = JSON.stringify({ predictions: values }, null, indent);
          const split = outputs(response);
          if (indent === 0) expect(split).toEqual(values.map((v) => JSON.stringify(v)));
          expect(split.map((o) => JSON.parse(o))).toEqual(JSON.parse(JSON.stringify(values)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('splits the results of classify and regress', () => {
    const classify = '{"results": [[["cat", 0.9], ["dog", 0.1]], [["cat", 0.2], ["dog", 0.8]]]}';
    expect(outputs(classify, 'classify')).toEqual([
      '[["cat", 0.9], ["dog", 0.1]]',
      '[["cat", 0.2], ["dog", 0.8]]',
    ]);
    expect(outputs('{"results": [0.5, 1.5e2]}', 'regress')).toEqual(['0.5', '1.5e2']);
  });

  it('passes on NaN, Infinity and -Infinity as TFS writes them, wherever a number may stand', () => {
    expect(outputs('{"predictions": [NaN, -Infinity, Infinity, 0.5]}')).toEqual([
      'NaN',
      '-Infinity',
      'Infinity',
      '0.5',
    ]);
    expect(outputs('{"predictions":[[NaN,0.5],[[Infinity]],{"p":-Infinity}]}')).toEqual([
      '[NaN,0.5]',
      '[[Infinity]]',
      '{"p":-Infinity}',
    ]);
    expect(outputs('{"results": [[["cat", NaN], ["dog", Infinity]]]}', 'classify')).toEqual([
      '[["cat", NaN], ["dog", Infinity]]',
    ]);
    expect(outputs('{"results": [-Infinity, NaN]}', 'regress')).toEqual(['-Infinity', 'NaN']);
    expect(outputs('{"outputs": {"scores": [[NaN, 1]], "ids": [-Infinity]}}')).toEqual([
      '{"scores":[NaN, 1],"ids":-Infinity}',
    ]);
  });

  it.each(['Nan', 'nan', 'Inf', '+Infinity', '-NaN', 'NaNx'])(
    'refuses %s where a number may stand, as invalid JSON',
    (word) => {
      for (const [response, method] of [
        [`{"predictions": [1, ${word}]}`, 'predict'],
        [`{"predictions": [[${word}]]}`, 'predict'],
        [`{"predictions": [{"p": ${word}}]}`, 'predict'],
        [`{"results": [${word}]}`, 'regress'],
        [`{"outputs": {"a": [${word}]}}`, 'predict'],
      ] as const) {
        const error = failure(() => outputs(response, method));
        expect(error).toBeInstanceOf(ResponseFormatError);
        expect(error.message).toMatch(/^response is not valid JSON \(at byte \d+\)/);
      }
    },
  );

  it('reads a response inside a larger buffer', () => {
    const b = Buffer.from('xx{"predictions": [1, 2]}{"predictions": [3]}');
    expect(outputs(b, 'predict', 2, 25)).toEqual(['1', '2']);
    expect(outputs(b, 'predict', 25, b.length)).toEqual(['3']);
  });

  it('does not read past the end of the response', () => {
    const b = Buffer.from('{"model_version": "1","predictions": [3]}');
    const error = failure(() => outputs(b, 'predict', 0, 22));
    expect(error).toBeInstanceOf(ResponseFormatError);
  });

  it.each([
    [
      '{"error": "Input to reshape is a tensor with 3 values"}',
      'predict',
      /Input to reshape is a tensor with 3 values/,
    ],
    ['{"model_version": "1"}', 'predict', /no "predictions" or "outputs"/],
    ['{"predictions": [1]}', 'classify', /no "results"/],
    ['{"results": [1]}', 'predict', /no "predictions" or "outputs"/],
    ['{}', 'regress', /no "results"/],
    ['[1, 2]', 'predict', /not a JSON object/],
    ['"oops"', 'predict', /not a JSON object/],
    ['{"predictions": 5}', 'predict', /"predictions" is not a list/],
    ['{"results": {"a": [1]}}', 'classify', /"results" is not a list/],
    ['{"outputs": {"a": [1, 2], "b": [3]}}', 'predict', /do not have the same number of records/],
    ['{"outputs": {"a": 1}}', 'predict', /output "a" is not a list/],
    ['upstream timed out', 'predict', /^response is not valid JSON \(at byte 1\): upstream timed out$/],
    ['{"predictions":[1,2]', 'predict', /not valid JSON \(at byte 21\)/],
    ['{"predictions":[1,2]]}', 'predict', /not valid JSON \(at byte 21\)/],
    ['{"predictions":[1,2]} trailing', 'predict', /not valid JSON \(at byte 23\)/],
    ['{"predictions":[{"a":1},{"a":}]}', 'predict', /not valid JSON \(at byte 30\)/],
    ['{"results":[01]}', 'regress', /not valid JSON/],
  ])('%s (%s) is a ResponseFormatError', (response, method, message) => {
    const error = failure(() => outputs(response, method as TfsMethod));
    expect(error).toBeInstanceOf(ResponseFormatError);
    expect(error.name).toBe('ResponseFormatError');
    expect(error.message).toMatch(message);
  });
});
