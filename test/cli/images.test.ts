import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/cli/run.ts';
import { pipeline } from '../support/cli.ts';
import { type Colour, colourDistance, meanColourModel, solidImage } from '../support/images.ts';
import { tfExample, tfRecordFile } from '../support/tfrecord-writer.ts';

// Seed 002's second case through `pipeline run`: images stored in TFRecord files of tf.Example, the
// input filter picking each record's encoded image as a {"b64"} instance for the model, no inference.py.
// The model answers an image's mean colour, so each solid image must answer the colour it was drawn in.

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'images-'));
  model = await meanColourModel(join(dir, 'mean-colour'), { script: false });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Drawn {
  readonly label: number;
  readonly colour: Colour;
  readonly format: 'png' | 'jpeg';
}

describe('TFRecord files of tf.Example holding images', () => {
  it("scores each record's image/encoded through the input filter, in record order", async () => {
    const drawn: Drawn[] = Array.from({ length: 12 }, (_, k) => ({
      label: 100 + k,
      colour: [(k * 20) % 256, 255 - k * 15, (k * 77) % 256],
      format: k % 3 === 0 ? 'jpeg' : 'png',
    }));
    const records = await Promise.all(
      drawn.map(async ({ label, colour, format }) =>
        tfExample({
          'image/encoded': { bytes: [await solidImage(colour, format)] },
          'image/format': { bytes: [Buffer.from(format)] },
          'image/class/label': { ints: [label] },
        }),
      ),
    );
    // A record with no image among them: quarantined by the filter, its neighbours scored.
    records.splice(5, 0, tfExample({ 'image/class/label': { ints: [-1] } }));
    const input = join(dir, 'images.tfrecord');
    await writeFile(input, tfRecordFile(records));
    const job = join(dir, 'tfrecord.job.json');
    await writeFile(
      job,
      JSON.stringify({
        model,
        contentType: 'application/x-tfrecord',
        splitType: 'TFRecord',
        maxErrorPercent: 10,
        dataProcessing: { inputFilter: "$['image/encoded'][0]" },
      }),
    );
    const out = join(dir, 'out-tfrecord');

    const result = await pipeline('run', input, '--job', job, '--out', out, '--json');

    expect(result.code).toBe(0);
    expect(result.report).toMatchObject({
      status: 'Succeeded',
      records: { in: 13, out: 12, errors: 1 },
    } satisfies Partial<RunReport>);
    const answers = (await readFile(join(out, 'images.tfrecord.out'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as number[]);
    expect(answers).toHaveLength(drawn.length);
    answers.forEach((mean, k) => {
      const { colour, format } = drawn[k] as Drawn;
      if (format === 'png') expect(mean).toEqual(colour);
      else expect(colourDistance(mean, colour)).toBeLessThanOrEqual(3);
    });
    const [error] = (await readFile(join(out, '_errors.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(error).toMatchObject({
      input: 'images.tfrecord',
      record: 6,
      reason: expect.stringContaining("no member 'image/encoded'"),
    });

    // Joined: each answer beside the example it came from, read as the filter read it.
    const joinedJob = join(dir, 'tfrecord-joined.job.json');
    await writeFile(
      joinedJob,
      JSON.stringify({
        model,
        contentType: 'application/x-tfrecord',
        splitType: 'TFRecord',
        maxErrorPercent: 10,
        dataProcessing: {
          inputFilter: "$['image/encoded'][0]",
          joinSource: 'Input',
          outputFilter: "$['image/class/label','SageMakerOutput']",
        },
      }),
    );
    const joinedOut = join(dir, 'out-tfrecord-joined');
    const joined = await pipeline('run', input, '--job', joinedJob, '--out', joinedOut, '--json');
    expect(joined.code).toBe(0);
    const lines = (await readFile(join(joinedOut, 'images.tfrecord.out'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { 'image/class/label': number[]; SageMakerOutput: number[] });
    expect(lines.map((line) => line['image/class/label'])).toEqual(drawn.map(({ label }) => [label]));
    expect(lines.map((line) => line.SageMakerOutput)).toEqual(answers);
  });
});
