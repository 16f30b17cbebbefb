import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobEstimate } from '../../src/core/estimate.ts';
import { pipeline } from '../support/cli.ts';

// `pipeline plan --calibrate` scores a sample of the inputs with the job's model on the local model
// server (real onnxruntime), and estimates from that rate scaled by a stated factor.

const SAMPLES = resolve('samples');
const IRIS = join(SAMPLES, 'iris.jsonl');
const IRIS_JOB = join(SAMPLES, 'iris.job.json');
const IRIS_MODEL = join(SAMPLES, 'models', 'iris');

let dir = '';

async function job(name: string, spec: Record<string, unknown>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ model: IRIS_MODEL, ...spec }));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-calibrate-'));
});

describe('pipeline plan --calibrate', () => {
  it('estimates from a rate measured here, scaled by the stated factor for the instance type', async () => {
    // Act
    const { code, stdout } = await pipeline('plan', IRIS, '--job', IRIS_JOB, '--calibrate', '--json');
    // Assess
    expect(code).toBe(0);
    const estimate = JSON.parse(stdout) as JobEstimate;
    const calibrated = estimate.assumptions.calibrated;
    expect(calibrated?.calibration).toMatchObject({
      model: IRIS_MODEL,
      failedRequests: 0,
      concurrency: 4,
      limits: { seconds: 3, records: 50_000 },
    });
    const local = calibrated?.calibration.recordsPerSecond ?? 0;
    expect(local).toBeGreaterThan(0);
    expect(calibrated?.calibration.records).toBeGreaterThan(0);
    expect(local).toBeCloseTo(
      (calibrated?.calibration.records ?? 0) / (calibrated?.calibration.seconds ?? 1),
      6,
    );
    // The job's default instance, ml.p3.2xlarge: the assumed GPU speed-up, said to be one.
    expect(calibrated?.speed).toMatchObject({ factor: 8, target: 'ml.p3.2xlarge' });
    expect(calibrated?.speed.basis).toContain('assumed');
    expect(estimate.assumptions.recordsPerSecond).toBeCloseTo(local * 8, 6);
    // 150 records at that rate, after the start-up assumed for one instance.
    expect(estimate.records.sent).toBe(150);
    expect(estimate.transform?.instanceMinutes).toBeCloseTo(5 + 150 / (local * 8) / 60, 9);
  });

  it('prints where the rate comes from: what was measured, within what bounds, and the factor', async () => {
    // Prepare: a CPU instance, whose factor is its vCPUs over the cores the model server used here.
    const spec = await job('cpu.job.json', {
      instanceType: 'ml.m5.xlarge',
      dataProcessing: { inputFilter: '$.features' },
    });
    // Act
    const { code, stdout } = await pipeline('plan', IRIS, '--job', spec, '--calibrate');
    // Assess
    expect(code).toBe(0);
    expect(stdout).toContain('the model ran here to calibrate');
    const source =
      /rate from: {2}a local calibration on this machine: (\d+) records in ([\d.]+) s = (\d+(?:\.\d)?) records\/s, × ([\d.]+) for ml\.m5\.xlarge = (\d+(?:\.\d)?) records\/s/.exec(
        stdout,
      );
    expect(source).not.toBeNull();
    const [, records, seconds, local, factor, scaled] = (source ?? []).map(Number);
    expect(records).toBeGreaterThan(0);
    expect(seconds).toBeGreaterThan(0);
    expect(local).toBeGreaterThan(0);
    const cores = 4 / (factor ?? 1);
    expect([1, 2, 3, 4]).toContain(Math.round(cores));
    expect(stdout).toContain(
      `its 4 vCPUs over the ${Math.round(cores)} core${cores === 1 ? '' : 's'} used here, assumed as fast each; rerun on the real instance to know`,
    );
    expect(stdout).toContain(
      "measured on the job's own requests, 4 at a time, for at most 3 s or 50,000 records, after a warm-up request; the model server's start-up excluded",
    );
    // The time printed is the records over the scaled rate, after the assumed start-up, within rounding.
    expect(Math.abs((scaled ?? 0) - (local ?? 0) * (factor ?? 0))).toBeLessThanOrEqual(
      0.01 * (scaled ?? 0) + (factor ?? 0),
    );
    const minutes = /about ([\d.]+) minutes \(([\d.]+) instance-minutes\)/.exec(stdout);
    expect(Number(minutes?.[2])).toBeCloseTo(5 + 150 / (scaled ?? 1) / 60, 1);
  });

  it('says the rate is an assumption without --calibrate, and suggests it', async () => {
    const { code, stdout } = await pipeline('plan', IRIS, '--job', IRIS_JOB);
    expect(code).toBe(0);
    expect(stdout).toContain('(nothing was run)');
    expect(stdout).toContain(
      'rate from:  an assumption, not a measurement: 100 records a second for any model; measure yours with --calibrate',
    );
    const given = await pipeline('plan', IRIS, '--job', IRIS_JOB, '--records-per-second', '20');
    expect(given.stdout).toContain('rate from:  --records-per-second, as given');
  });

  it('fails clearly, naming the model, when the model cannot be calibrated', async () => {
    // Prepare: a model whose file is not ONNX, and an input with no record.
    const broken = join(dir, 'broken');
    await mkdir(join(broken, '1'), { recursive: true });
    await writeFile(join(broken, '1', 'model.onnx'), 'not a model');
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '\n\n');
    // Act
    const unloadable = await pipeline('plan', IRIS, '--job', IRIS_JOB, '--model', broken, '--calibrate');
    const refused = await pipeline('plan', IRIS, '--model', IRIS_MODEL, '--calibrate');
    const nothing = await pipeline('plan', empty, '--job', IRIS_JOB, '--calibrate');
    const both = await pipeline('plan', IRIS, '--job', IRIS_JOB, '--calibrate', '--records-per-second', '5');
    // Assess
    expect(unloadable).toMatchObject({ code: 1, stdout: '' });
    expect(unloadable.stderr).toContain(`pipeline plan: model ${broken} cannot be calibrated:`);
    expect(unloadable.stderr).toContain('model.onnx cannot be served');
    // Whole records, unfiltered: the iris model refuses every one of them.
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `model ${IRIS_MODEL} answered none of the 1 sample request with success: status 400`,
    );
    expect(nothing).toMatchObject({ code: 1, stderr: expect.stringContaining('nothing to calibrate on') });
    expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining('give one of them') });
  });

  it('is documented in the help', async () => {
    const help = await pipeline('plan', '--help');
    expect(help.stdout).toContain('--calibrate');
    expect(help.stdout).toContain('at most 3 s or 50,000 records');
  });
});
