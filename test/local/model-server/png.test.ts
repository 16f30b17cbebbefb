import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeSimplePng } from '../../../src/local/model-server/png.ts';
import { seededRandom } from '../../../src/local/onnx/model-file.ts';

/** Pixels with gradients, edges and noise, so the encoder picks every row filter somewhere. */
function picture(width: number, height: number, channels: 1 | 2 | 3 | 4, seed: number): Buffer {
  const random = seededRandom(seed);
  return Buffer.from(
    Array.from({ length: width * height * channels }, (_, k) => {
      const p = Math.floor(k / channels);
      const [x, y] = [p % width, Math.floor(p / width)];
      return (x * 9 + y * 5 + (k % channels) * 40 + (random() < 0.2 ? random() * 90 : 0)) % 256;
    }),
  );
}

describe('decodeSimplePng', () => {
  it('gives exactly the pixels sharp gives, for grey, grey and alpha, RGB and RGBA', async () => {
    for (const channels of [1, 2, 3, 4] as const) {
      for (const [width, height] of [
        [1, 1],
        [16, 16],
        [37, 23],
      ] as const) {
        const png = await sharp(picture(width, height, channels, width * channels), {
          raw: { width, height, channels },
        })
          .png({ adaptiveFiltering: true, compressionLevel: 9 })
          .toBuffer();
        const decoded = decodeSimplePng(png, 3, 1e6);
        const expected = await sharp(png).toColourspace('srgb').removeAlpha().raw().toBuffer();
        expect(decoded?.width).toBe(width);
        expect(Buffer.from(decoded?.pixels ?? []).equals(expected)).toBe(true);
      }
    }
  });

  it('leaves to sharp what it does not decode exactly: palettes, 16 bits, too many pixels, other files', async () => {
    const rgb = picture(8, 8, 3, 1);
    const raw = { raw: { width: 8, height: 8, channels: 3 as const } };
    expect(decodeSimplePng(await sharp(rgb, raw).png({ palette: true }).toBuffer(), 3, 1e6)).toBeUndefined();
    expect(
      decodeSimplePng(await sharp(rgb, raw).png().toColourspace('rgb16').toBuffer(), 3, 1e6),
    ).toBeUndefined();
    expect(decodeSimplePng(await sharp(rgb, raw).png().toBuffer(), 3, 63)).toBeUndefined();
    expect(decodeSimplePng(await sharp(rgb, raw).png().toBuffer(), 1, 1e6)).toBeUndefined();
    expect(decodeSimplePng(await sharp(rgb, raw).jpeg().toBuffer(), 3, 1e6)).toBeUndefined();
  });
});
