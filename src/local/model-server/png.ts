/**
 * The common PNG, decoded here rather than by sharp: 8 bits a sample, grey or RGB, with or without
 * alpha, not interlaced, no colour-management chunks. Small images are where a call into libvips costs
 * far more than the decoding itself; anything else (other PNGs, resizing, JPEG, WebP) goes to sharp.
 */
import { inflateSync } from 'node:zlib';

export interface SimplePng {
  readonly width: number;
  readonly height: number;
  /** Row by row, `channels` samples a pixel (alpha dropped, grey repeated for RGB), 0-255. */
  readonly pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples a pixel by colour type: grey, RGB, grey and alpha, RGBA. */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };
/** Chunks that change no pixel; any other (a palette, gamma, a colour profile...) leaves the image to sharp. */
const HARMLESS = new Set(['IDAT', 'IEND', 'tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME', 'sRGB']);

/**
 * The pixels of `bytes` with `channels` samples each (1: grey images only; 3: any), or undefined when
 * the image is not such a PNG, or holds more than `maxPixels`.
 */
export function decodeSimplePng(bytes: Buffer, channels: 1 | 3, maxPixels: number): SimplePng | undefined {
  if (
    bytes.length < 33 ||
    !bytes.subarray(0, 8).equals(SIGNATURE) ||
    bytes.toString('latin1', 12, 16) !== 'IHDR'
  ) {
    return undefined;
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const [depth, colourType, , , interlace] = bytes.subarray(24, 29);
  const samples = SAMPLES[colourType ?? -1];
  if (depth !== 8 || interlace !== 0 || samples === undefined || width * height > maxPixels) return undefined;
  if (channels === 1 && samples > 2) return undefined;
  const data: Buffer[] = [];
  for (let at = 33; at + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (!HARMLESS.has(type) || at + 12 + length > bytes.length) return undefined;
    if (type === 'IDAT') data.push(bytes.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const stride = width * samples;
  let filtered: Buffer;
  try {
    filtered = inflateSync(Buffer.concat(data), { maxOutputLength: (stride + 1) * height });
  } catch {
    return undefined;
  }
  if (filtered.length !== (stride + 1) * height) return undefined;
  const rows = unfilter(filtered, stride, height, samples);
  if (rows === undefined) return undefined;
  return { width, height, pixels: toChannels(rows, samples, channels) };
}

/** Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth). */
function unfilter(filtered: Buffer, stride: number, height: number, bpp: number): Uint8Array | undefined {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = filtered[y * (stride + 1)];
    const line = filtered.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    const above = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (out[row + x - bpp] ?? 0) : 0;
      const b = y > 0 ? (out[above + x] ?? 0) : 0;
      const c = x >= bpp && y > 0 ? (out[above + x - bpp] ?? 0) : 0;
      const raw = line[x] ?? 0;
      let predicted: number;
      if (filter === 0) predicted = 0;
      else if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) predicted = paeth(a, b, c);
      else return undefined;
      out[row + x] = (raw + predicted) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** The samples as `channels` a pixel: alpha dropped, grey repeated for RGB. */
function toChannels(rows: Uint8Array, samples: number, channels: 1 | 3): Uint8Array {
  const colour = samples >= 3 ? 3 : 1;
  if (colour === channels && samples === channels) return rows;
  const pixels = rows.length / samples;
  const out = new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++)
      out[p * channels + c] = rows[p * samples + (colour === 1 ? 0 : c)] ?? 0;
  }
  return out;
}
