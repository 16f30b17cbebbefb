// Run with Node 22 or later: node scripts/make-image-sample.ts
/**
 * Builds the bundled image sample: a tiny CNN that tells horizontal stripes, vertical stripes and plain
 * images apart. Its convolution is constructed (edge filters, as the first layer of an image model
 * learns them); its dense layer is trained here, from a fixed seed, on generated images. Writes
 *   samples/models/stripes/1/model.onnx    input `image` [batch, 32, 32, 3] (0-255, channels last),
 *                                          output `probabilities` [batch, 3], in the order of LABELS,
 *                                          which samples/models/stripes/code/inference.py names
 *   samples/images/*.png, *.jpg            a few images of each kind, of other sizes than 32 x 32
 * and prints the accuracy onnxruntime reaches on new generated images.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import { onnxModel, seededRandom, softmaxInPlace } from '../src/local/onnx/model-file.ts';

const SIZE = 32;
const LABELS = ['horizontal stripes', 'vertical stripes', 'plain'];
const SEED = 20261202;
const EPOCHS = 400;
const LEARNING_RATE = 0.5;

const samples = (path: string): string => fileURLToPath(new URL(`../samples/${path}`, import.meta.url));
const random = seededRandom(SEED);

/** 3 x 3 edge filters on the image's brightness: rising and falling edges across rows, then across columns. */
const EDGE = [-1, -1, -1, 0, 0, 0, 1, 1, 1];
const FILTERS = [EDGE, EDGE.map((w) => -w), transpose(EDGE), transpose(EDGE).map((w) => -w)];

/**
 * One image of a kind, `width` x `height`, RGB channels last: stripes of random colours and width (as
 * wide, once the image is resized to 32 x 32, as in the training images), some noise.
 */
function drawImage(kind: number, width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  const stripe = Math.round((2 + Math.floor(random() * 5)) * ((kind === 0 ? height : width) / SIZE));
  const first = [0, 1, 2].map(() => Math.floor(random() * 256));
  // The second colour is much lighter or darker than the first, so stripes always show.
  const second = first.map((value) => value + (value < 128 ? 1 : -1) * (100 + random() * 27));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const along = kind === 0 ? y : x;
      const colour = kind !== 2 && Math.floor(along / stripe) % 2 === 1 ? second : first;
      for (let c = 0; c < 3; c++) {
        const noise = (random() - 0.5) * 24;
        pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, (colour[c] ?? 0) + noise));
      }
    }
  }
  return pixels;
}

/** The graph's features, computed here to train the dense layer: each filter's mean ReLU response. */
function features(pixels: Uint8Array): number[] {
  const brightness = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) return 0;
    const at = (y * SIZE + x) * 3;
    return ((pixels[at] ?? 0) + (pixels[at + 1] ?? 0) + (pixels[at + 2] ?? 0)) / (3 * 255);
  };
  return FILTERS.map((filter) => {
    let total = 0;
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        let sum = 0;
        for (let k = 0; k < 9; k++)
          sum += (filter[k] ?? 0) * brightness(x + (k % 3) - 1, y + Math.floor(k / 3) - 1);
        total += Math.max(0, sum);
      }
    }
    return total / (SIZE * SIZE);
  });
}

/** Softmax regression of the features on the labels, by full-batch gradient descent. */
function trainDense(
  rows: readonly number[][],
  labels: readonly number[],
): { weights: Float32Array; bias: Float32Array } {
  const inputs = FILTERS.length;
  const classes = LABELS.length;
  const weights = new Float64Array(inputs * classes);
  const bias = new Float64Array(classes);
  const scores = new Float64Array(classes);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const gw = new Float64Array(weights.length);
    const gb = new Float64Array(classes);
    rows.forEach((row, r) => {
      for (let c = 0; c < classes; c++) {
        scores[c] = (bias[c] ?? 0) + row.reduce((sum, v, i) => sum + v * (weights[i * classes + c] ?? 0), 0);
      }
      softmaxInPlace(scores);
      for (let c = 0; c < classes; c++) {
        const d = ((scores[c] ?? 0) - (labels[r] === c ? 1 : 0)) / rows.length;
        gb[c] = (gb[c] ?? 0) + d;
        row.forEach((v, i) => {
          gw[i * classes + c] = (gw[i * classes + c] ?? 0) + v * d;
        });
      }
    });
    weights.set(weights.map((w, k) => w - LEARNING_RATE * 40 * (gw[k] ?? 0)));
    bias.set(bias.map((b, k) => b - LEARNING_RATE * (gb[k] ?? 0)));
  }
  return { weights: Float32Array.from(weights), bias: Float32Array.from(bias) };
}

function transpose(kernel: readonly number[]): number[] {
  return kernel.map((_, k) => kernel[(k % 3) * 3 + Math.floor(k / 3)] ?? 0);
}

/**
 * image [batch, 32, 32, 3] -> channels first -> Conv (brightness edge filters, scaled to 0-255 input)
 * -> ReLU -> global average -> dense -> softmax.
 */
function model(dense: { weights: Float32Array; bias: Float32Array }): Uint8Array {
  const convWeights = new Float32Array(FILTERS.length * 3 * 9);
  FILTERS.forEach((filter, f) => {
    for (let c = 0; c < 3; c++)
      convWeights.set(
        filter.map((w) => w / (3 * 255)),
        (f * 3 + c) * 9,
      );
  });
  return onnxModel({
    inputs: [{ name: 'image', dims: ['batch', SIZE, SIZE, 3] }],
    outputs: [{ name: 'probabilities', dims: ['batch', LABELS.length] }],
    nodes: [
      {
        opType: 'Transpose',
        inputs: ['image'],
        outputs: ['planes'],
        attributes: { perm: { ints: [0, 3, 1, 2] } },
      },
      {
        opType: 'Conv',
        inputs: ['planes', 'edges'],
        outputs: ['responses'],
        attributes: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
      },
      { opType: 'Relu', inputs: ['responses'], outputs: ['rectified'] },
      { opType: 'GlobalAveragePool', inputs: ['rectified'], outputs: ['pooled'] },
      { opType: 'Flatten', inputs: ['pooled'], outputs: ['features'], attributes: { axis: { int: 1 } } },
      { opType: 'MatMul', inputs: ['features', 'dense_weights'], outputs: ['scaled'] },
      { opType: 'Add', inputs: ['scaled', 'dense_bias'], outputs: ['logits'] },
      { opType: 'Softmax', inputs: ['logits'], outputs: ['probabilities'] },
    ],
    initializers: [
      { name: 'edges', dims: [FILTERS.length, 3, 3, 3], values: convWeights },
      { name: 'dense_weights', dims: [FILTERS.length, LABELS.length], values: dense.weights },
      { name: 'dense_bias', dims: [LABELS.length], values: dense.bias },
    ],
  });
}

const kinds = Array.from({ length: 600 }, (_, k) => k % LABELS.length);
const training = kinds.map((kind) => features(drawImage(kind, SIZE, SIZE)));
const bytes = model(trainDense(training, kinds));
const modelPath = samples('models/stripes/1/model.onnx');
mkdirSync(dirname(modelPath), { recursive: true });
writeFileSync(modelPath, bytes);

mkdirSync(samples('images'), { recursive: true });
const bundled: [string, number, number, number, 'png' | 'jpg'][] = [
  ['blinds', 0, 48, 40, 'png'],
  ['shelves', 0, 64, 64, 'jpg'],
  ['fence', 1, 40, 56, 'png'],
  ['barcode', 1, 96, 48, 'jpg'],
  ['wall', 2, 50, 50, 'png'],
];
for (const [name, kind, width, height, format] of bundled) {
  const image = sharp(drawImage(kind, width, height), { raw: { width, height, channels: 3 } });
  const file = format === 'png' ? await image.png().toBuffer() : await image.jpeg({ quality: 90 }).toBuffer();
  writeFileSync(samples(`images/${name}.${format}`), file);
}

const accuracy = await servedAccuracy(bytes);
process.stdout.write(
  `accuracy on new images ${(accuracy * 100).toFixed(1)}% (${modelPath}, ${bytes.length} bytes)\n`,
);

/** The share of new generated images whose most probable class, as onnxruntime computes it, is right. */
async function servedAccuracy(model: Uint8Array): Promise<number> {
  const session = await InferenceSession.create(model);
  const test = Array.from({ length: 300 }, (_, k) => k % LABELS.length);
  const images = new Float32Array(test.length * SIZE * SIZE * 3);
  test.forEach((kind, k) => {
    images.set(drawImage(kind, SIZE, SIZE), k * SIZE * SIZE * 3);
  });
  const output = await session.run({ image: new Tensor('float32', images, [test.length, SIZE, SIZE, 3]) });
  await session.release();
  const probabilities = output.probabilities?.data as Float32Array;
  let right = 0;
  test.forEach((kind, r) => {
    const row = Array.from(probabilities.subarray(r * LABELS.length, (r + 1) * LABELS.length));
    if (row.indexOf(Math.max(...row)) === kind) right++;
  });
  return right / test.length;
}
