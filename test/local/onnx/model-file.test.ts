import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  type DenseLayer,
  type DenseNetwork,
  denseNetwork,
  evaluateDense,
  onnxModel,
  randomDenseNetwork,
} from '../../../src/local/onnx/model-file.ts';

async function run(model: Uint8Array, feeds: Record<string, { data: number[]; dims: number[] }>) {
  const session = await InferenceSession.create(model);
  const tensors = Object.fromEntries(
    Object.entries(feeds).map(([name, { data, dims }]) => [
      name,
      new Tensor('float32', Float32Array.from(data), dims),
    ]),
  );
  const results = await session.run(tensors);
  await session.release();
  return Object.fromEntries(
    Object.entries(results).map(([name, tensor]) => [
      name,
      { data: Array.from(tensor.data as Float32Array), dims: tensor.dims },
    ]),
  );
}

function expectClose(actual: readonly number[] | undefined, expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  for (const [k, value] of (actual ?? []).entries()) {
    expect(value, `value ${k}`).toBeCloseTo(expected[k] ?? Number.NaN, 6);
  }
}

// Prepare: a 2-2-2 network small enough to work out by hand.
//   layer 1: [x0, x1] · [[1, 2], [3, 4]] + [0.5, -1], then ReLU
//   layer 2: identity weights, zero bias, then softmax
const hidden: DenseLayer = {
  weights: Float32Array.of(1, 2, 3, 4),
  bias: Float32Array.of(0.5, -1),
  inputs: 2,
  outputs: 2,
  activation: 'relu',
};
const handMade: DenseNetwork = {
  inputName: 'x',
  outputName: 'y',
  layers: [
    hidden,
    {
      weights: Float32Array.of(1, 0, 0, 1),
      bias: Float32Array.of(0, 0),
      inputs: 2,
      outputs: 2,
      activation: 'softmax',
    },
  ],
};

describe('denseNetwork', () => {
  it('writes a model onnxruntime loads, with the named input and output and a symbolic batch dimension', async () => {
    const session = await InferenceSession.create(denseNetwork(handMade));

    expect(session.inputMetadata).toEqual([
      { name: 'x', isTensor: true, type: 'float32', shape: ['batch', 2] },
    ]);
    expect(session.outputMetadata).toEqual([
      { name: 'y', isTensor: true, type: 'float32', shape: ['batch', 2] },
    ]);
    await session.release();
  });

  it('computes what the hand calculation gives', async () => {
    // Row [2, 1]: [2+3, 4+4] + [0.5, -1] = [5.5, 7]; softmax gives [1, e^1.5] / (1 + e^1.5).
    // Row [1, -1]: [1-3, 2-4] + [0.5, -1] = [-1.5, -3]; ReLU gives [0, 0]; softmax gives [0.5, 0.5].
    const { y } = await run(denseNetwork(handMade), { x: { data: [2, 1, 1, -1], dims: [2, 2] } });

    const e = Math.exp(1.5);
    expect(y?.dims).toEqual([2, 2]);
    const expected = [1 / (1 + e), e / (1 + e), 0.5, 0.5];
    expectClose(y?.data, expected);
  });

  it('leaves the last layer linear with activation none', async () => {
    const linear: DenseNetwork = {
      inputName: 'features',
      outputName: 'value',
      layers: [
        {
          weights: Float32Array.of(1, -2, 0.5),
          bias: Float32Array.of(10),
          inputs: 3,
          outputs: 1,
          activation: 'none',
        },
      ],
    };

    const { value } = await run(denseNetwork(linear), { features: { data: [4, 1, 2], dims: [1, 3] } });

    // 4 - 2 + 1 + 10
    expect(value).toEqual({ data: [13], dims: [1, 1] });
  });

  it('refuses layers whose widths do not chain', () => {
    const broken: DenseNetwork = {
      ...handMade,
      layers: [
        hidden,
        {
          weights: new Float32Array(3),
          bias: new Float32Array(1),
          inputs: 3,
          outputs: 1,
          activation: 'none',
        },
      ],
    };

    expect(() => denseNetwork(broken)).toThrow('layer 2 takes 3 values but layer 1 gives 2');
    expect(() => denseNetwork({ ...handMade, layers: [] })).toThrow('a dense network needs a layer');
  });
});

describe('randomDenseNetwork', () => {
  it('gives the same model for the same seed and another for another seed', () => {
    const model = (seed: number) =>
      Buffer.from(denseNetwork(randomDenseNetwork({ sizes: [64, 256, 10], seed })));

    expect(model(7).equals(model(7))).toBe(true);
    expect(model(7).equals(model(8))).toBe(false);
  });

  it('answers in onnxruntime what evaluateDense computes: probabilities per row', async () => {
    const network = randomDenseNetwork({ sizes: [64, 256, 10], seed: 3 });
    const rows = Array.from({ length: 5 * 64 }, (_, k) => Math.sin(k));

    const { probabilities } = await run(denseNetwork(network), { features: { data: rows, dims: [5, 64] } });

    const expected = evaluateDense(network, Float32Array.from(rows), 5);
    expect(probabilities?.dims).toEqual([5, 10]);
    expectClose(probabilities?.data, Array.from(expected));
    for (let r = 0; r < 5; r++) {
      const sum = probabilities?.data.slice(r * 10, r * 10 + 10).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
    }
  });
});

describe('onnxModel', () => {
  it('builds graphs of several inputs and outputs, initializers shared between nodes', async () => {
    const model = onnxModel({
      inputs: [
        { name: 'a', dims: ['n', 2] },
        { name: 'b', dims: ['n', 2] },
      ],
      outputs: [
        { name: 'sum', dims: ['n', 2] },
        { name: 'twice', dims: ['n', 2] },
      ],
      nodes: [
        { opType: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
        { opType: 'MatMul', inputs: ['sum', 'double'], outputs: ['half'] },
        { opType: 'MatMul', inputs: ['half', 'double'], outputs: ['quad'] },
        { opType: 'Sub', inputs: ['quad', 'sum'], outputs: ['twice_minus'] },
        { opType: 'Sub', inputs: ['twice_minus', 'sum'], outputs: ['twice'] },
      ],
      initializers: [{ name: 'double', dims: [2, 2], values: Float32Array.of(1.5, 0, 0, 1.5) }],
    });

    const results = await run(model, {
      a: { data: [1, 2], dims: [1, 2] },
      b: { data: [3, 4], dims: [1, 2] },
    });

    // sum = [4, 6]; quad = 2.25 · sum = [9, 13.5]; twice = quad - 2 · sum = [1, 1.5]
    expect(results.sum).toEqual({ data: [4, 6], dims: [1, 2] });
    expect(results.twice).toEqual({ data: [1, 1.5], dims: [1, 2] });
  });

  it('refuses an initializer whose values do not fill its dims', () => {
    const graph = {
      inputs: [{ name: 'x', dims: [1] }],
      outputs: [{ name: 'x', dims: [1] }],
      nodes: [],
      initializers: [{ name: 'w', dims: [2, 3], values: new Float32Array(5) }],
    };

    expect(() => onnxModel(graph)).toThrow('initializer w: 5 values do not fill dims [2,3]');
  });
});
