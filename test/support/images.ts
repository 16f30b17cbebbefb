import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { onnxModel } from '../../src/local/onnx/model-file.ts';

/**
 * An image model whose answers follow from the pixels alone, and images whose answers are known from
 * how they were drawn: the model answers each image with its mean red, green and blue (0-255) after the
 * model server resized it to MEAN_COLOUR_SIZE x MEAN_COLOUR_SIZE, so a solid colour answers itself.
 */

export const MEAN_COLOUR_SIZE = 8;

export type Colour = readonly [number, number, number];

/**
 * Pre- and post-processing as seed 002's JPEG example does it: the request body is the image, sent on
 * base64-encoded as the model's `{"b64"}` input; the answer is `{"mean": [r, g, b]}`. A TF Serving error
 * (an image that cannot be decoded) is raised with TF Serving's own message, so the request fails.
 */
export const MEAN_COLOUR_SCRIPT = `
import base64
import json

IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")


def input_handler(data, context):
    if context.request_content_type not in IMAGE_TYPES:
        raise ValueError("expected an image, got %s" % context.request_content_type)
    image = data.read()
    return json.dumps({"instances": [{"b64": base64.b64encode(image).decode("ascii")}]})


def output_handler(response, context):
    if response.status_code != 200:
        raise ValueError(response.json()["error"])
    return json.dumps({"mean": response.json()["predictions"][0]}), "application/json"
`;

/**
 * Writes a model root `<folder>/1/model.onnx` taking `image` [batch, 8, 8, 3] (0-255, channels last) and
 * answering `mean` [batch, 3]; with `script`, also `code/inference.py` (MEAN_COLOUR_SCRIPT). Returns the folder.
 */
export async function meanColourModel(folder: string, options: { script: boolean }): Promise<string> {
  await mkdir(join(folder, '1'), { recursive: true });
  const model = onnxModel({
    inputs: [{ name: 'image', dims: ['batch', MEAN_COLOUR_SIZE, MEAN_COLOUR_SIZE, 3] }],
    outputs: [{ name: 'mean', dims: ['batch', 3] }],
    nodes: [
      {
        opType: 'ReduceMean',
        inputs: ['image'],
        outputs: ['mean'],
        attributes: { axes: { ints: [1, 2] }, keepdims: { int: 0 } },
      },
    ],
    initializers: [],
  });
  await writeFile(join(folder, '1', 'model.onnx'), model);
  if (options.script) {
    await mkdir(join(folder, 'code'), { recursive: true });
    await writeFile(join(folder, 'code', 'inference.py'), MEAN_COLOUR_SCRIPT);
  }
  return folder;
}

/** A `size` x `size` image of one colour, PNG (lossless) or JPEG (within a few levels of the colour). */
export async function solidImage(colour: Colour, format: 'png' | 'jpeg', size = 16): Promise<Buffer> {
  const [r, g, b] = colour;
  const image = sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 95 }).toBuffer();
}

/** The k-th of a sequence of distinct colours, spread over the cube so neighbours differ. */
export function colourNumber(k: number): Colour {
  return [(k * 37) % 256, (k * 101 + 50) % 256, (k * 173 + 200) % 256];
}

/** How far an answered mean is from a colour, in levels: the largest difference of a channel. */
export function colourDistance(mean: readonly number[], colour: Colour): number {
  return Math.max(...colour.map((value, c) => Math.abs((mean[c] ?? Number.NaN) - value)));
}

/** JPEG bytes cut short: the header and part of the scan, no end-of-image marker. */
export function truncated(jpeg: Buffer): Buffer {
  return jpeg.subarray(0, Math.floor(jpeg.length / 2));
}
