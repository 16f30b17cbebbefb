import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningModelServer, startModelServer } from '../../../src/local/model-server/server.ts';
import { type OnnxType, onnxModel, type TensorSpec } from '../../../src/local/onnx/model-file.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensors-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Serves a model answering its input as it got it (Identity), and runs `test` against it. */
async function withIdentity(
  name: string,
  input: TensorSpec,
  test: (server: RunningModelServer) => Promise<void>,
): Promise<void> {
  await mkdir(join(root, name, '1'), { recursive: true });
  const model = onnxModel({
    inputs: [input],
    outputs: [{ ...input, name: 'same' }],
    nodes: [{ opType: 'Identity', inputs: [input.name], outputs: ['same'] }],
    initializers: [],
  });
  await writeFile(join(root, name, '1', 'model.onnx'), model);
  const server = await startModelServer({ model: join(root, name), workers: 1 });
  try {
    await test(server);
  } finally {
    await server.close();
  }
}

async function predict(server: RunningModelServer, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/v1/models/${server.modelName}:predict`, {
    method: 'POST',
    body,
  });
  return { status: response.status, text: await response.text() };
}

describe('every tensor type', () => {
  const cases: [OnnxType, string, string][] = [
    ['float32', '[1.5, -2, 3]', '[1.5,-2.0,3.0]'],
    ['float64', '[0.1, -2, 1e-7]', '[0.1,-2.0,1e-7]'],
    ['int8', '[-128, 0, 127]', '[-128,0,127]'],
    ['int16', '[-32768, 32767]', '[-32768,32767]'],
    ['int32', '[-2147483648, 2147483647]', '[-2147483648,2147483647]'],
    ['int64', '[-9223372036854775808, 9007199254740993]', '[-9223372036854775808,9007199254740993]'],
    ['uint8', '[0, 255]', '[0,255]'],
    ['uint16', '[0, 65535]', '[0,65535]'],
    ['uint32', '[0, 4294967295]', '[0,4294967295]'],
    ['uint64', '[0, 18446744073709551615]', '[0,18446744073709551615]'],
    ['bool', '[true, false, 1]', '[true,false,true]'],
    ['string', '["tea", "", {"b64": "Y29mZmVl"}]', '["tea","","coffee"]'],
  ];
  it.each(cases)(
    '%s: JSON values become the input type, exactly, and come back',
    async (type, sent, answered) => {
      await withIdentity(type, { name: 'x', dims: ['batch'], type }, async (server) => {
        expect(await predict(server, `{"instances": ${sent}}`)).toEqual({
          status: 200,
          text: `{"predictions":${answered}}`,
        });
      });
    },
  );

  it('answers a value that cannot be of the input type with a 400 naming the input', async () => {
    const refused: [OnnxType, string, string][] = [
      [
        'uint8',
        '[1, 256]',
        'JSON Value: 256 Type: Number is out of range for uint8 (input "x", instances[1])',
      ],
      [
        'int32',
        '[1.5]',
        'JSON Value: 1.5 Type: Number is not of expected type: int32 (input "x", instances[0])',
      ],
      [
        'bool',
        '["yes"]',
        'JSON Value: "yes" Type: String is not of expected type: bool (input "x", instances[0])',
      ],
      [
        'string',
        '[7]',
        'JSON Value: 7 Type: Number is not of expected type: string (input "x", instances[0])',
      ],
      ['int64', '[18446744073709551615]', 'is out of range for int64 (input "x", instances[0])'],
    ];
    for (const [type, sent, message] of refused) {
      await withIdentity(`${type}-refused`, { name: 'x', dims: ['batch'], type }, async (server) => {
        const reply = await predict(server, `{"instances": ${sent}}`);
        expect(reply.status).toBe(400);
        expect(JSON.parse(reply.text).error).toContain(message);
      });
    }
  });

  it('takes the shape sent when the input declares none: scalars, vectors, matrices', async () => {
    await withIdentity('unknown-rank', { name: 'x', type: 'int32' }, async (server) => {
      expect((await predict(server, '{"inputs": 7}')).text).toBe('{"outputs":7}');
      expect((await predict(server, '{"instances": [1, 2]}')).text).toBe('{"predictions":[1,2]}');
      expect((await predict(server, '{"instances": [[[1], [2]], [[3], [4]]]}')).text).toBe(
        '{"predictions":[[[1],[2]],[[3],[4]]]}',
      );
    });
  });
});

/** 4 x 3 pixels, each channel a different value, so a swapped axis or channel shows. */
const WIDTH = 4;
const HEIGHT = 3;
const pixels = Buffer.from(Array.from({ length: WIDTH * HEIGHT * 3 }, (_, k) => (k * 7) % 256));
const raw = { raw: { width: WIDTH, height: HEIGHT, channels: 3 as const } };
const rows = (at: (y: number, x: number, c: number) => number) =>
  Array.from({ length: HEIGHT }, (_, y) =>
    Array.from({ length: WIDTH }, (_, x) => Array.from({ length: 3 }, (_, c) => at(y, x, c))),
  );
const expected = rows((y, x, c) => pixels[(y * WIDTH + x) * 3 + c] ?? -1);
const b64 = (bytes: Buffer) => JSON.stringify({ b64: bytes.toString('base64') });

/** A PNG that declares `width` x `height` pixels, with a few bytes of pixel data after the header. */
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), data])));
    return Buffer.concat([head, Buffer.from(type), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(100))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('{"b64": ...} images for a rank-4 numeric input', () => {
  it('decodes a PNG exactly, channels last', async () => {
    const png = await sharp(pixels, raw).png().toBuffer();
    await withIdentity(
      'nhwc',
      { name: 'image', dims: ['batch', HEIGHT, WIDTH, 3], type: 'float32' },
      async (server) => {
        const reply = await predict(server, `{"instances": [${b64(png)}, ${b64(png)}]}`);
        expect(JSON.parse(reply.text)).toEqual({ predictions: [expected, expected] });
      },
    );
  });

  it('decodes a PNG exactly, channels first, and resizes an image to the size the model fixes', async () => {
    const png = await sharp(pixels, raw).png().toBuffer();
    const large = await sharp(pixels, raw)
      .resize(WIDTH * 4, HEIGHT * 4, { kernel: 'nearest' })
      .png()
      .toBuffer();
    await withIdentity(
      'nchw',
      { name: 'image', dims: ['batch', 3, HEIGHT, WIDTH], type: 'uint8' },
      async (server) => {
        const [channelsFirst] = JSON.parse(
          (await predict(server, `{"instances": [${b64(png)}]}`)).text,
        ).predictions;
        expect(channelsFirst).toEqual(
          [0, 1, 2].map((c) => expected.map((row) => row.map((pixel) => pixel[c]))),
        );
        const resized = JSON.parse((await predict(server, `{"instances": [{"image": ${b64(large)}}]}`)).text);
        expect(resized.predictions[0]).toHaveLength(3);
        expect(resized.predictions[0][0]).toHaveLength(HEIGHT);
      },
    );
  });

  it('decodes a JPEG within 8 levels of each pixel (JPEG is lossy)', async () => {
    const smooth = Buffer.from(Array.from({ length: 16 * 16 * 3 }, (_, k) => 100 + ((k / 3) % 16) * 4));
    const jpeg = await sharp(smooth, { raw: { width: 16, height: 16, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer();
    await withIdentity(
      'jpeg',
      { name: 'image', dims: ['batch', 16, 16, 3], type: 'float32' },
      async (server) => {
        const [image] = JSON.parse((await predict(server, `{"instances": [${b64(jpeg)}]}`)).text).predictions;
        const decoded = (image as number[][][]).flat(2);
        decoded.forEach((value, k) => {
          expect(Math.abs(value - (smooth[k] ?? 0))).toBeLessThanOrEqual(8);
        });
      },
    );
  });

  it('refuses with a 400 naming the instance an image that cannot be decoded, or a decompression bomb', async () => {
    const png = await sharp(pixels, raw).png().toBuffer();
    await withIdentity(
      'bad-images',
      { name: 'image', dims: ['batch', HEIGHT, WIDTH, 3], type: 'float32' },
      async (server) => {
        const garbage = await predict(
          server,
          `{"instances": [${b64(png)}, ${b64(Buffer.from('not an image'))}]}`,
        );
        expect(garbage.status).toBe(400);
        expect(JSON.parse(garbage.text).error).toContain(
          'instances[1]: the b64 value is not an image that can be decoded',
        );
        const bomb = await predict(server, `{"instances": [${b64(pngDeclaring(100_000, 100_000))}]}`);
        expect(bomb.status).toBe(400);
        expect(JSON.parse(bomb.text).error).toBe(
          'instances[0]: the image declares 100000 x 100000 pixels, over the limit of 40000000 (a decompression bomb?)',
        );
        expect((await predict(server, `{"instances": [${b64(png)}]}`)).status).toBe(200);
      },
    );
  });

  it('refuses a truncated JPEG, saying once that its data ended early', async () => {
    const solid = { create: { width: 16, height: 16, channels: 3 as const, background: '#3a7' } };
    const noise = {
      create: {
        width: 64,
        height: 64,
        channels: 3 as const,
        background: '#000',
        noise: { type: 'gaussian' as const, mean: 128, sigma: 40 },
      },
    };
    const small = await sharp(solid).jpeg().toBuffer();
    const large = await sharp(noise).jpeg().toBuffer();
    await withIdentity(
      'truncated-jpeg',
      { name: 'image', dims: ['batch', HEIGHT, WIDTH, 3], type: 'float32' },
      async (server) => {
        // Cut in its tables, then in its scan.
        for (const cut of [small.subarray(0, small.length / 2), large.subarray(0, large.length - 200)]) {
          const reply = await predict(server, `{"instances": [${b64(cut)}]}`);
          expect(reply.status).toBe(400);
          const { error } = JSON.parse(reply.text) as { error: string };
          expect(error).toMatch(/^instances\[0\]: the (b64 value|image) .*premature end of JPEG image/);
          expect(error.split('premature end of JPEG image')).toHaveLength(2);
        }
        expect((await predict(server, `{"instances": [${b64(large)}]}`)).status).toBe(200);
      },
    );
  });
});
