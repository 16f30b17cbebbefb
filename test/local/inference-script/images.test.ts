import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Colour, colourDistance, meanColourModel, solidImage, truncated } from '../../support/images.ts';
import { pipelineServe, type ServeProcess } from '../../support/serve.ts';

/**
 * Seed 002's image case at the container's door: `pipeline serve` over a model root whose
 * code/inference.py turns a request's image bytes into a `{"b64"}` TFS request. The model answers each
 * image's mean colour, so a solid image must answer its own colour.
 */

let root: string;
let serve: ServeProcess;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'image-script-'));
  serve = await pipelineServe([
    '--model',
    await meanColourModel(join(root, 'mean-colour'), { script: true }),
  ]);
}, 120_000);
afterAll(async () => {
  await serve?.stop();
  await rm(root, { recursive: true, force: true });
});

async function invoke(body: Buffer, contentType: string) {
  const response = await fetch(`${serve.url}/invocations`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType },
  });
  return { status: response.status, answer: (await response.json()) as { mean?: number[]; error?: string } };
}

describe('images through code/inference.py', () => {
  const colours: Colour[] = [
    [0, 0, 0],
    [255, 255, 255],
    [200, 30, 90],
    [12, 180, 250],
  ];

  it.each(['application/x-image', 'image/png'])(
    'answers a PNG sent as %s with its colour, exactly',
    async (type) => {
      for (const colour of colours) {
        const { status, answer } = await invoke(await solidImage(colour, 'png'), type);
        expect(status).toBe(200);
        expect(answer).toEqual({ mean: colour });
      }
    },
  );

  it.each(['application/x-image', 'image/jpeg'])(
    'answers a JPEG sent as %s within 3 levels of its colour',
    async (type) => {
      for (const colour of colours) {
        const { status, answer } = await invoke(await solidImage(colour, 'jpeg'), type);
        expect(status).toBe(200);
        expect(colourDistance(answer.mean ?? [], colour)).toBeLessThanOrEqual(3);
      }
    },
  );

  it('resizes images of any size to what the model takes', async () => {
    const { answer } = await invoke(await solidImage([40, 80, 120], 'png', 100), 'image/png');
    expect(answer).toEqual({ mean: [40, 80, 120] });
  });

  it('fails a truncated JPEG alone, with an error naming the problem, and keeps serving', async () => {
    const jpeg = await solidImage([200, 30, 90], 'jpeg');
    const requests = [jpeg, truncated(jpeg), jpeg].map((body) => invoke(body, 'image/jpeg'));
    const [before, broken, after] = await Promise.all(requests);

    expect(broken?.status).toBe(500);
    expect(broken?.answer.error).toMatch(
      /^instances\[0\]: the b64 value is not an image that can be decoded \(JPEG, PNG or WebP\): .*premature end of JPEG image/,
    );
    expect(before?.status).toBe(200);
    expect(after?.status).toBe(200);
  });

  it('refuses what is not an image by its content type', async () => {
    const { status, answer } = await invoke(Buffer.from('1,2,3'), 'text/csv');
    expect(status).toBe(500);
    expect(answer.error).toBe('expected an image, got text/csv');
  });
});
