import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../support/cli.ts';

const samples = (path: string) => fileURLToPath(new URL(`../../samples/${path}`, import.meta.url));
const IMAGES = ['barcode.jpg', 'blinds.png', 'fence.png', 'shelves.jpg', 'wall.png'];

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'image-sample-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('the bundled image sample', () => {
  it("runs as the README says, each image labelled through the model's inference.py", async () => {
    const result = await pipeline(
      'run',
      ...IMAGES.map((image) => samples(`images/${image}`)),
      '--job',
      samples('stripes.job.json'),
      '--out',
      out,
    );

    expect(result.code).toBe(0);
    const predictions = (await readFile(join(out, 'predictions.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; SageMakerOutput: { label: string } });
    expect(predictions.map((prediction) => prediction.input)).toEqual(IMAGES);
    expect(predictions.map((prediction) => prediction.SageMakerOutput.label)).toEqual([
      'vertical stripes',
      'horizontal stripes',
      'vertical stripes',
      'horizontal stripes',
      'plain',
    ]);
  });
});
