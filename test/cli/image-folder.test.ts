import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../support/cli.ts';
import {
  type Colour,
  colourDistance,
  colourNumber,
  meanColourModel,
  solidImage,
  truncated,
} from '../support/images.ts';

// Seed 002's headline case on one machine: a folder of images, in nested folders, is one whole-object
// job (`pipeline run <folder>`). Each image goes through the model's code/inference.py as one request;
// the answers land in predictions.jsonl in key order. The model answers an image's mean colour, so
// each solid image must answer the colour it was drawn in, known without the pipeline.

const IMAGES = 2_000;
const BROKEN = 'scans/2026-12-07/broken.jpg';

interface Drawn {
  readonly key: string;
  readonly colour: Colour;
  readonly format: 'png' | 'jpeg';
}

/** Keys relative to the folder, spread over folders whose names sort differently by bytes and by locale. */
function keyOf(k: number, format: 'png' | 'jpeg'): string {
  const folders = ['scans/2026-12-07', 'scans/2026-12-07-late', 'Scans', 'café/étagère', 'a b'];
  const folder = folders[k % folders.length] as string;
  return `${folder}/${Math.floor(k / 100)}/image ${k}.${format === 'png' ? 'png' : 'jpg'}`;
}

let dir: string;
let folder: string;
let job: string;
const drawn: Drawn[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-folder-'));
  folder = join(dir, 'images');
  const model = await meanColourModel(join(dir, 'mean-colour'), { script: true });
  for (let k = 0; k < IMAGES; k++) {
    const format = k % 3 === 0 ? 'jpeg' : 'png';
    drawn.push({ key: keyOf(k, format), colour: colourNumber(k), format });
  }
  for (const { key, colour, format } of drawn) {
    await mkdir(dirname(join(folder, key)), { recursive: true });
    await writeFile(join(folder, key), await solidImage(colour, format));
  }
  await writeFile(join(folder, BROKEN), truncated(await solidImage([1, 2, 3], 'jpeg')));
  // What image folders also hold, which is not an input: a hidden file.
  await writeFile(join(folder, 'Scans', '.DS_Store'), 'not an image');
  job = join(dir, 'images.job.json');
  await writeFile(
    job,
    JSON.stringify({
      model,
      contentType: 'application/x-image',
      splitType: 'None',
      batchStrategy: 'SingleRecord',
      maxConcurrentTransforms: 8,
    }),
  );
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pipeline run on a folder of images', () => {
  it('scores every image once, in key order, quarantining the truncated JPEG by its key', async () => {
    const out = join(dir, 'out');

    const result = await pipeline('run', folder, '--job', job, '--out', out, '--json');

    expect(result.code, result.stderr).toBe(0);
    expect(result.report).toMatchObject({
      status: 'Succeeded',
      records: { in: IMAGES + 1, out: IMAGES, errors: 1 },
    });
    const lines = (await readFile(join(out, 'predictions.jsonl'), 'utf8')).trimEnd().split('\n');
    const predictions = lines.map(
      (line) => JSON.parse(line) as { input: string; SageMakerOutput: { mean: number[] } },
    );
    const inKeyOrder = [...drawn].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    expect(predictions.map(({ input }) => input)).toEqual(inKeyOrder.map(({ key }) => key));
    const wrong = predictions.filter(({ SageMakerOutput }, k) => {
      const { colour, format } = inKeyOrder[k] as Drawn;
      const distance = colourDistance(SageMakerOutput.mean, colour);
      return format === 'png' ? distance !== 0 : distance > 3;
    });
    expect(wrong).toEqual([]);
    const errors = (await readFile(join(out, '_errors.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; reason: string });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      input: BROKEN,
      reason: expect.stringContaining('premature end of JPEG image'),
    });
  }, 600_000);
});
