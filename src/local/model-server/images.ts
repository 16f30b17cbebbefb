/**
 * `{"b64": "<JPEG, PNG or WebP>"}` instances for a numeric input of rank 4, decoded and resized with
 * sharp into the input's pixels: what the DecodeJpeg at the start of a TF image model's graph does, which
 * ONNX exports lack. Values are 0-255 in the input's type; normalisation belongs in the graph.
 */
import type { Sharp, SharpOptions } from 'sharp';
import { RequestError } from '../errors.ts';
import { decodeSimplePng } from './png.ts';
import type { TensorInfo } from './tfs.ts';

export interface ImageGeometry {
  /** Fixed by the model, or undefined when symbolic: the image's own size is used. */
  readonly height: number | undefined;
  readonly width: number | undefined;
  readonly channels: 1 | 3;
  /** Channels last (`[batch, H, W, C]`) or first (`[batch, C, H, W]`). */
  readonly channelsLast: boolean;
}

/** A declared size over this many pixels is refused before decoding: a decompression bomb, most likely. */
export const MAX_IMAGE_PIXELS = 40_000_000;

let loadedSharp: Promise<(input: Buffer, options: SharpOptions) => Sharp> | undefined;

/**
 * sharp, loaded on the first image that needs it: libvips takes a worker tens of milliseconds to load,
 * which a model server for numbers never pays.
 */
function sharpLibrary(): Promise<(input: Buffer, options: SharpOptions) => Sharp> {
  loadedSharp ??= import('sharp').then(({ default: sharp }) => {
    // libvips' own threads would compete with the pool's workers, and its cache only grows with distinct images.
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return loadedSharp;
}

/** How a rank-4 input with one or three channels takes images, or undefined when it does not. */
export function imageGeometry(input: TensorInfo): ImageGeometry | undefined {
  if (input.shape.length !== 4) return undefined;
  const [, d1, d2, d3] = input.shape;
  const size = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);
  if (d3 === 1 || d3 === 3) return { height: size(d1), width: size(d2), channels: d3, channelsLast: true };
  if (d1 === 1 || d1 === 3) return { height: size(d2), width: size(d3), channels: d1, channelsLast: false };
  return undefined;
}

export interface DecodedImage {
  readonly height: number;
  readonly width: number;
  /** Pixels row by row, channels last, 0-255. */
  readonly pixels: Uint8Array;
}

/**
 * Decodes one image to the geometry's channels, resized (every side stretched, as tf.image.resize does)
 * to its height and width when the model fixes them. `where` names the instance in errors. An image
 * declaring more than MAX_IMAGE_PIXELS is refused before its pixels are decoded.
 */
export async function decodeImage(
  bytes: Buffer,
  geometry: ImageGeometry,
  where: string,
): Promise<DecodedImage> {
  const simple = decodeSimplePng(bytes, geometry.channels, MAX_IMAGE_PIXELS);
  const sized = (image: DecodedImage) =>
    (geometry.height ?? image.height) === image.height && (geometry.width ?? image.width) === image.width;
  if (simple && sized(simple)) return simple;
  const refuse = (reason: string, cause?: unknown) =>
    new RequestError(`${where}: ${reason}`, 400, cause === undefined ? undefined : { cause });
  const sharp = await sharpLibrary();
  let image = sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error' });
  if (geometry.height !== undefined || geometry.width !== undefined) {
    image = image.resize(geometry.width, geometry.height, { fit: 'fill', kernel: 'linear' });
  }
  image = geometry.channels === 1 ? image.toColourspace('b-w') : image.toColourspace('srgb');
  try {
    const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== geometry.channels) {
      throw refuse(`the image has ${info.channels} channels where the input takes ${geometry.channels}`);
    }
    return { height: info.height, width: info.width, pixels: data };
  } catch (error) {
    if (error instanceof RequestError) throw error;
    throw await decodeError(bytes, error, refuse);
  }
}

/** Why an image was not decoded, worded for the user: its declared size when that is what was refused. */
async function decodeError(
  bytes: Buffer,
  error: unknown,
  refuse: (reason: string, cause?: unknown) => RequestError,
): Promise<RequestError> {
  const sharp = await sharpLibrary();
  const declared = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  if (declared === undefined) {
    return refuse(
      `the b64 value is not an image that can be decoded (JPEG, PNG or WebP): ${message(error)}`,
      error,
    );
  }
  const { width = 0, height = 0 } = declared;
  if (width * height > MAX_IMAGE_PIXELS) {
    return refuse(
      `the image declares ${width} x ${height} pixels, over the limit of ${MAX_IMAGE_PIXELS} (a decompression bomb?)`,
      error,
    );
  }
  return refuse(`the image cannot be decoded: ${message(error)}`, error);
}

/** libvips repeats its messages, a line each, for every pass over a damaged image: each is said once. */
function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const said: string[] = [];
  for (const line of text.split('\n').map((each) => each.trim())) {
    if (line.length > 0 && !said.some((earlier) => earlier.includes(line))) said.push(line);
  }
  return said.join('; ');
}
