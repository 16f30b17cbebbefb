import './support/quiet.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readText } from '../../src/core/ports/object-store.ts';
import type { JobRecord } from '../../src/core/steps/job-record.ts';
import { SageMakerApiError } from '../../src/local/errors.ts';
import { lambdaContext } from '../../src/local/runner.ts';
import { LocalStack } from '../../src/local/stack.ts';
import { ScriptedContainer } from './support/container.ts';
import { leftovers, NOTHING_LEFT, pipeline, withinSeconds } from './support/harness.ts';

// The pipeline's own steps failing or being stopped: a step killed midway, an execution stopped during
// the transform, a cleanup that fails. The state machine file runs through the ASL interpreter over the
// step functions and the local SageMaker; the model is a container in this process (see container.ts).

const killedInMerge = fileURLToPath(new URL('./support/killed-in-merge.ts', import.meta.url));

let container: ScriptedContainer;
let dir = '';

beforeAll(async () => {
  container = await ScriptedContainer.start();
  dir = await mkdtemp(join(tmpdir(), 'faults-pipeline-'));
});

afterAll(async () => {
  await container.close();
});

beforeEach(() => {
  container.script = () => 'ok';
});

function records(count: number, width = 2): string {
  const tail = Array.from({ length: width - 1 }, (_, j) => 0.5 + j).join(',');
  return Array.from({ length: count }, (_, k) => `{"id":${k + 1},"features":[${k + 1},${tail}]}\n`).join('');
}

const spec = { model: 'served-elsewhere', dataProcessing: { inputFilter: '$.features' } };

/** A data dir with `inbox/<name>` holding the records, and a stack over it scoring with the container. */
async function stackWith(name: string, input: string, job: Record<string, unknown> = {}) {
  const dataDir = join(dir, name);
  await mkdir(join(dataDir, 'inbox'), { recursive: true });
  await writeFile(join(dataDir, 'inbox', `${name}.jsonl`), input);
  const stack = new LocalStack({ dataDir, modelUrl: container.url });
  await stack.executions.start(name, { inputs: [`inbox/${name}.jsonl`], job: { ...spec, ...job } });
  return { dataDir, stack };
}

describe('a Merge step killed midway', () => {
  it('never shows half an output, and writes the same bytes when run again; the sweep takes what the dead run left', async () => {
    // Prepare: about 4 MB of results, and the same input scored once without a fault, for reference.
    const input = join(dir, 'big.jsonl');
    await writeFile(input, records(40_000, 20));
    const job = join(dir, 'big.job.json');
    await writeFile(job, JSON.stringify(spec));
    const reference = await pipeline(
      'run',
      input,
      '--job',
      job,
      '--model-url',
      container.url,
      '--data-dir',
      join(dir, 'reference'),
      '--json',
    );
    const expected = await readFile(
      join(dir, 'reference', 'results', reference.report?.jobId ?? '', 'big.jsonl.out'),
    );

    // Act: the same run in another process, killed once its Merge has written a megabyte.
    const dataDir = join(dir, 'killed');
    const child = spawn(
      process.execPath,
      [killedInMerge, 'run', input, '--job', job, '--model-url', container.url, '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const key = line.replace(/^midway /, '');
    const jobId = key.split('/')[1] ?? '';
    const stack = new LocalStack({ dataDir, modelUrl: container.url });

    // Assess: half of it is on disk, under a temporary name only.
    const partials = (await leftovers(dataDir)).partial;
    const partial = partials.find((path) => path.startsWith('results/'));
    expect(partial).toMatch(new RegExp(`^results/${jobId}/big\\.jsonl\\.out\\.\\d+\\.\\d+\\.partial$`));
    expect((await stat(join(dataDir, partial ?? ''))).size).toBeGreaterThanOrEqual(1 << 20);
    expect(await stack.store.head(key)).toBeUndefined();
    expect(await readdir(join(dataDir, 'results', jobId))).not.toContain('big.jsonl.out');

    child.kill('SIGKILL');
    await once(child, 'exit');
    const status = await pipeline('status', jobId, '--data-dir', dataDir, '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'Interrupted' });

    // The Merge handler run again over what the transform left: the whole output, the same bytes.
    const record = JSON.parse(await readText(stack.store, `results/${jobId}/_job.json`)) as JobRecord;
    const event = {
      jobId,
      spec: record.job,
      group: { group: 0, first: 0, count: 1, bytes: (await stat(input)).size },
      transform: {},
      scoring: {},
    };
    const merge = stack.functions.merge;
    if (!merge) throw new Error('the stack has no merge function');
    for (let run = 0; run < 2; run++) {
      expect(await merge(event, lambdaContext('merge'))).toMatchObject({
        records: { in: 40_000, out: 40_000, errors: 0 },
      });
      expect((await readFile(join(dataDir, key))).equals(expected)).toBe(true);
    }

    // The dead run's model, work folder and half-written file are no running execution's: swept.
    expect(await leftovers(dataDir)).toMatchObject({ models: [jobId], partial: partials });
    const swept = await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0', '--delete');
    expect(swept.code).toBe(0);
    expect(swept.stdout).toContain(`deleted model ${jobId} (created `);
    expect(swept.stdout).toContain(`deleted work/${jobId}/`);
    expect(swept.stdout).toContain(`deleted ${partial} (left half-written)`);
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    expect((await readFile(join(dataDir, key))).equals(expected)).toBe(true);
    await stack.close();
  }, 60_000);
});

describe('an execution stopped during the transform', () => {
  it('stops its transform job, runs no cleanup, and leaves the model and work folder to the sweep', async () => {
    // Prepare: the third request is never answered.
    let arrived = (): void => undefined;
    const waiting = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    container.script = (invocation) => {
      if (invocation.instances.length !== 1 || (invocation.instances[0] as number[])[0] !== 3) return 'ok';
      arrived();
      return 'hang';
    };
    const { dataDir, stack } = await stackWith('stopped', records(10), { batchStrategy: 'SingleRecord' });
    const controller = new AbortController();
    const execution = stack.execute('stopped', { signal: controller.signal });
    await withinSeconds(20, waiting);

    // While it runs, the sweep keeps what it owns, whatever the grace period.
    const during = await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0', '--delete');
    expect(during.stdout).toContain('kept model stopped (created ');
    expect(during.stdout).toContain(': its execution is still running');
    expect(during.stdout).toContain('kept work/stopped/: its execution is still running');
    expect(stack.sageMaker.models()).toEqual(['stopped']);

    // Act
    controller.abort();
    const outcome = await execution;

    // Assess: stopped, and so is its transform job: the hung request was cut and nothing was written.
    expect(outcome).toEqual({ status: 'ABORTED' });
    expect(await stack.executions.get('stopped')).toMatchObject({ status: 'ABORTED' });
    expect(container.invocations.filter((i) => i.answered === undefined)).toEqual([]);
    expect(await stack.sageMaker.stopTransformJob('stopped')).toBe(false);
    expect(await readdir(join(dataDir, 'results', 'stopped'))).toEqual(['_job.json']);
    // As in the cloud, a stopped execution runs no Catch: the model and the work folder stay.
    expect(stack.sageMaker.models()).toEqual(['stopped']);
    expect((await leftovers(dataDir)).partial).toEqual([]);

    const young = await pipeline('sweep', '--data-dir', dataDir);
    expect(young.stdout).toContain('kept model stopped (created ');
    expect(young.stdout).toContain(': younger than 6 hours');
    const dryRun = await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain('would delete model stopped (created ');
    expect(dryRun.stdout).toMatch(/would delete work\/stopped\/ \(\d+ objects\)/);
    expect(dryRun.stdout).toContain('Dry run, nothing deleted: pipeline sweep --delete deletes these 2');
    expect(stack.sageMaker.models()).toEqual(['stopped']);

    const swept = await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0', '--delete');
    expect(swept.code).toBe(0);
    expect(stack.sageMaker.models()).toEqual([]);
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    expect((await pipeline('sweep', '--data-dir', dataDir)).stdout).toBe(`Nothing to sweep in ${dataDir}\n`);
    await stack.close();
  });
});

describe('a cleanup that fails', () => {
  it('is retried by the state machine, and the job succeeds with nothing left', async () => {
    const { dataDir, stack } = await stackWith('cleanup-once', records(5));
    const deletePrefix = vi.spyOn(stack.store, 'deletePrefix');
    deletePrefix.mockRejectedValueOnce(busy(join(dataDir, 'work/cleanup-once/shards/0/0.jsonl')));
    const outcome = await stack.execute('cleanup-once', { retryIntervalOverrides: { Cleanup: 0 } });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(deletePrefix).toHaveBeenCalledTimes(2);
    expect(JSON.parse(await readText(stack.store, 'results/cleanup-once/_summary.json'))).toMatchObject({
      status: 'Succeeded',
      records: { in: 5, out: 5, errors: 0 },
    });
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    await stack.close();
  });

  it('fails the job naming what could not be deleted once the retries are spent', async () => {
    const { dataDir, stack } = await stackWith('cleanup-stuck', records(5));
    const stuck = join(dataDir, 'work/cleanup-stuck/shards/0/0.jsonl');
    const deletePrefix = vi.spyOn(stack.store, 'deletePrefix').mockRejectedValue(busy(stuck));
    const outcome = await stack.execute('cleanup-stuck', { retryIntervalOverrides: { Cleanup: 0 } });
    expect(outcome).toEqual({
      status: 'FAILED',
      error: { name: 'CleanupFailed', message: `EBUSY: resource busy or locked, unlink '${stuck}'` },
    });
    expect(deletePrefix).toHaveBeenCalledTimes(4);
    // The results stand; the model was deleted; the work folder is left to the sweep.
    expect(JSON.parse(await readText(stack.store, 'results/cleanup-stuck/_summary.json'))).toMatchObject({
      status: 'Succeeded',
    });
    expect(stack.sageMaker.models()).toEqual([]);
    deletePrefix.mockRestore();
    expect((await leftovers(dataDir)).work).toContain('work/cleanup-stuck/shards/0/0.jsonl');
    await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0', '--delete');
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    await stack.close();
  });

  it('leaves a model DeleteModel could not delete to the sweep, and the results stand', async () => {
    const { dataDir, stack } = await stackWith('model-stuck', records(5));
    vi.spyOn(stack.sageMaker, 'deleteModel').mockRejectedValueOnce(
      new SageMakerApiError('sdk', 'ThrottlingException', 'Rate exceeded'),
    );
    const outcome = await stack.execute('model-stuck', { retryIntervalOverrides: { DeleteModel: 0 } });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.status === 'SUCCEEDED' && outcome.output.modelNotDeleted).toMatchObject({
      Error: 'SageMaker.SageMakerException',
      Cause: expect.stringContaining('Rate exceeded'),
    });
    expect(await leftovers(dataDir)).toEqual({ ...NOTHING_LEFT, models: ['model-stuck'] });
    const swept = await pipeline('sweep', '--data-dir', dataDir, '--older-than-hours', '0', '--delete');
    expect(swept.stdout).toContain('deleted model model-stuck (created ');
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    await stack.close();
  });
});

/** The error Node gives when a file cannot be unlinked because something holds it. */
function busy(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EBUSY: resource busy or locked, unlink '${path}'`), {
    code: 'EBUSY',
    errno: -16,
    syscall: 'unlink',
    path,
  });
}
