import { describe, expect, it } from 'vitest';
import { RequestError } from '../../../src/local/errors.ts';
import {
  formatResponse,
  type OutputTensor,
  type Prepared,
  prepareRequest,
  type Signature,
} from '../../../src/local/model-server/tfs.ts';

const iris: Signature = {
  inputs: [{ name: 'features', type: 'float32', shape: ['batch', 4] }],
  outputs: [{ name: 'probabilities', type: 'float32', shape: ['batch', 3] }],
};

const twoInputs: Signature = {
  inputs: [
    { name: 'a', type: 'float32', shape: ['n', 2] },
    { name: 'b', type: 'float32', shape: ['n'] },
  ],
  outputs: [
    { name: 'sum', type: 'float32', shape: ['n', 2] },
    { name: 'label', type: 'int64', shape: ['n'] },
  ],
};

async function failure(run: () => unknown): Promise<RequestError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RequestError) return error;
  }
  throw new Error('expected a RequestError');
}

const feeds = (prepared: Prepared) =>
  prepared.feeds.map(({ name, data, dims }) => ({
    name,
    data: Array.from(data as ArrayLike<unknown>),
    dims,
  }));

describe('prepareRequest', () => {
  it('batches row-format instances into one tensor per input', async () => {
    const prepared = await prepareRequest(
      {
        instances: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
      },
      'predict',
      iris,
    );

    expect(prepared).toMatchObject({ method: 'predict', columnar: false, batch: 2 });
    expect(feeds(prepared)).toEqual([{ name: 'features', data: [1, 2, 3, 4, 5, 6, 7, 8], dims: [2, 4] }]);
  });

  it('takes instances keyed by input name, for one input or several', async () => {
    expect(feeds(await prepareRequest({ instances: [{ features: [1, 2, 3, 4] }] }, 'predict', iris))).toEqual(
      [{ name: 'features', data: [1, 2, 3, 4], dims: [1, 4] }],
    );
    const prepared = await prepareRequest(
      {
        instances: [
          { b: 10, a: [1, 2] },
          { a: [3, 4], b: 20 },
        ],
      },
      'predict',
      twoInputs,
    );
    expect(feeds(prepared)).toEqual([
      { name: 'a', data: [1, 2, 3, 4], dims: [2, 2] },
      { name: 'b', data: [10, 20], dims: [2] },
    ]);
  });

  it('takes columnar inputs, batched tensor first', async () => {
    const prepared = await prepareRequest({ inputs: { a: [[1, 2]], b: [3] } }, 'predict', twoInputs);

    expect(prepared).toMatchObject({ columnar: true, batch: 1 });
    expect(feeds(prepared)).toEqual([
      { name: 'a', data: [1, 2], dims: [1, 2] },
      { name: 'b', data: [3], dims: [1] },
    ]);
    expect(feeds(await prepareRequest({ inputs: [[1, 2, 3, 4]] }, 'predict', iris))).toEqual([
      { name: 'features', data: [1, 2, 3, 4], dims: [1, 4] },
    ]);
  });

  it('takes examples keyed by input name, with the shared context, ignoring other features', async () => {
    const prepared = await prepareRequest(
      {
        examples: [
          { a: [1, 2], note: 'x' },
          { a: [3, 4], b: 7 },
        ],
        context: { b: 5 },
      },
      'classify',
      twoInputs,
    );

    expect(prepared).toMatchObject({ method: 'classify', columnar: false, batch: 2 });
    expect(feeds(prepared)).toEqual([
      { name: 'a', data: [1, 2, 3, 4], dims: [2, 2] },
      { name: 'b', data: [5, 7], dims: [2] },
    ]);
  });

  it('refuses what TFS refuses, saying where', async () => {
    const cases: [unknown, string, Signature?][] = [
      [[[1, 2, 3, 4]], 'the request must be a JSON object, not [[1,2,3,4]]'],
      [{ instances: [[1, 2, 3]] }, 'instances[0] has shape [3], but input "features" takes [4] per instance'],
      [
        {
          instances: [
            [1, 2, 3, 4],
            [1, 2],
          ],
        },
        'instances[1] is not a dense tensor of shape [4] (its first elements give [2])',
      ],
      [
        { instances: [[1, 2, '3', 4]] },
        'JSON Value: "3" Type: String is not of expected type: float (input "features", instances[0])',
      ],
      [{ instances: [] }, "'instances' must be a non-empty list"],
      [
        { instances: [[1, 2, 3, 4]], inputs: [[1, 2, 3, 4]] },
        "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exist",
      ],
      [{ rows: [] }, "Missing 'inputs' or 'instances' key"],
      [
        { signature_name: 'other', instances: [[1, 2, 3, 4]] },
        'Serving signature name: "other" not found in signature def',
      ],
      [{ instances: [{ features: [1, 2, 3, 4], extra: 1 }] }, 'instances[0] must only have keys: "features"'],
      [{ instances: [[[1, 2], 3]] }, 'instances[0] must be an object keyed by "a", "b"', twoInputs],
      [{ instances: [{ a: [1, 2] }] }, 'instances[0] has no "b"', twoInputs],
      [
        { inputs: [[1, 2]] },
        '\'inputs\' must be an object keyed by "a", "b", the model\'s inputs',
        twoInputs,
      ],
      [{ inputs: { a: [[1, 2]], b: [1], c: [1] } }, '\'inputs\' has "c", not a model input', twoInputs],
      [{ inputs: { a: [[1, 2]] } }, '\'inputs\' has no "b"', twoInputs],
      [{ inputs: 5 }, 'inputs must be a list, batch first, not 5'],
      [
        { inputs: [[1, 2]] },
        'inputs has shape [2], but input "features" takes [4] after the batch dimension',
      ],
    ];
    for (const [request, message, signature = iris] of cases) {
      const error = await failure(() => prepareRequest(request, 'predict', signature));
      expect(error.message).toBe(message);
      expect(error.status).toBe(400);
    }
    expect(
      (await failure(() => prepareRequest({ instances: [[1, 2, 3, 4]] }, 'regress', iris))).message,
    ).toBe('Missing \'examples\' key: the regress API takes {"examples": [...]}');
    expect(
      (await failure(() => prepareRequest({ examples: [[1, 2, 3, 4]] }, 'classify', iris))).message,
    ).toBe('examples[0] must be an object keyed by "features"');
  });
});

describe('formatResponse', () => {
  const answer = (...args: Parameters<typeof formatResponse>) =>
    new TextDecoder().decode(formatResponse(...args));
  const probabilities: OutputTensor = {
    type: 'float32',
    dims: [2, 3],
    data: Float32Array.of(0.25, 0.5, 0.25, 0.1, 0.2, 0.7),
  };
  const rows = (batch: number, method: Prepared['method'] = 'predict'): Prepared => ({
    method,
    columnar: false,
    batch,
    feeds: [],
  });

  it('answers one prediction per instance: the row of the only output, or an object of all outputs', async () => {
    expect(answer(rows(2), iris.outputs, { probabilities })).toBe(
      '{"predictions":[[0.25,0.5,0.25],[0.1,0.2,0.7]]}',
    );
    const results = {
      sum: { type: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
      label: { type: 'int64', dims: [2], data: BigInt64Array.of(7n, 9n) },
    };
    expect(answer(rows(2), twoInputs.outputs, results)).toBe(
      '{"predictions":[{"sum":[1.0,2.0],"label":7},{"sum":[3.0,4.0],"label":9}]}',
    );
  });

  it('answers columnar requests with the output tensors', async () => {
    const columnar: Prepared = { method: 'predict', columnar: true, batch: 2, feeds: [] };

    expect(answer(columnar, iris.outputs, { probabilities })).toBe(
      '{"outputs":[[0.25,0.5,0.25],[0.1,0.2,0.7]]}',
    );
    const results = {
      sum: { type: 'float32', dims: [1, 2], data: Float32Array.of(1, 2) },
      label: { type: 'bool', dims: [1], data: Uint8Array.of(1) },
    };
    expect(answer(columnar, twoInputs.outputs, results)).toBe(
      '{"outputs":{"sum":[[1.0,2.0]],"label":[true]}}',
    );
  });

  it('answers classify with labels and scores, and regress with one number per example', async () => {
    expect(answer(rows(2, 'classify'), iris.outputs, { probabilities })).toBe(
      '{"results":[[["",0.25],["",0.5],["",0.25]],[["",0.1],["",0.2],["",0.7]]]}',
    );
    const labelled = [
      { name: 'classes', type: 'string', shape: ['n', 3] },
      { name: 'scores', type: 'float32', shape: ['n', 3] },
    ];
    const classes = { type: 'string', dims: [2, 3], data: ['a', 'b', 'c', 'a', 'b', 'c'] };
    expect(answer(rows(2, 'classify'), labelled, { classes, scores: probabilities })).toBe(
      '{"results":[[["a",0.25],["b",0.5],["c",0.25]],[["a",0.1],["b",0.2],["c",0.7]]]}',
    );
    const value = { type: 'float32', dims: [3, 1], data: Float32Array.of(1.5, -2, 0.1) };
    expect(answer(rows(3, 'regress'), [{ name: 'value', type: 'float32', shape: ['n', 1] }], { value })).toBe(
      '{"results":[1.5,-2.0,0.1]}',
    );
  });

  it('writes strings as UTF-8, however long the answer grows', () => {
    const label = 'étiquette-🙂-'.repeat(500);
    const classes = { type: 'string', dims: [2], data: [label, 'b'] };
    expect(answer(rows(2), [{ name: 'classes', type: 'string', shape: ['n'] }], { classes })).toBe(
      `{"predictions":[${JSON.stringify(label)},"b"]}`,
    );
  });

  it('refuses answers that do not fit the method or the instances', async () => {
    expect((await failure(() => answer(rows(2, 'regress'), iris.outputs, { probabilities }))).message).toBe(
      "regress needs one value per example; the model's output has 3",
    );
    const results = {
      sum: { type: 'float32', dims: [1, 2], data: Float32Array.of(1, 2) },
      label: { type: 'int64', dims: [1], data: BigInt64Array.of(1n) },
    };
    expect((await failure(() => answer(rows(1, 'classify'), twoInputs.outputs, results))).message).toBe(
      'classify needs a model with one output of scores (and at most one of class labels, strings); this one has "sum", "label"',
    );
    expect((await failure(() => answer(rows(3), iris.outputs, { probabilities }))).message).toBe(
      'output "probabilities" has 2 rows for 3 instances; the row format needs one per instance',
    );
  });
});
