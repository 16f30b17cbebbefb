import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../src/core/triggers/webhook.ts';
import { UpProcess } from '../support/up-process.ts';

// `pipeline up` as users run it: a child process over a data dir, fed through the inbox folder and
// the webhook on localhost, scoring with the bundled iris model.

const root = fileURLToPath(new URL('../../', import.meta.url));
const secret = 'a-local-webhook-secret';
let dataDir = '';
let service: UpProcess;
let url = '';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, seconds = 90): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; the service said:\n${service.log}`);
}

async function jobsOf(file: string): Promise<string[]> {
  const jobs = await readdir(join(dataDir, 'results')).catch(() => [] as string[]);
  const found: string[] = [];
  for (const job of jobs) {
    const record = await readFile(join(dataDir, 'results', job, '_job.json'), 'utf8').catch(() => '');
    if (record.includes(`"inbox/${file}"`)) found.push(job);
  }
  return found;
}

async function summary(job: string): Promise<Record<string, unknown> | undefined> {
  const text = await readFile(join(dataDir, 'results', job, '_summary.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/** The executions queued so far, by name (status updates come and go as temporaries beside them). */
async function queued(): Promise<string[]> {
  return (await readdir(join(dataDir, 'executions'))).filter((name) => name.endsWith('.json')).sort();
}

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/runs`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function signed(body: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return { 'x-pipeline-timestamp': timestamp, 'x-pipeline-signature': sign(secret, timestamp, body) };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pipeline-up-'));
  await mkdir(join(dataDir, 'config'), { recursive: true });
  await writeFile(
    join(dataDir, 'config', 'default-job.json'),
    JSON.stringify({
      model: join(root, 'samples/models/iris'),
      dataProcessing: {
        inputFilter: '$.features',
        joinSource: 'Input',
        outputFilter: "$['id','SageMakerOutput']",
      },
    }),
  );
  service = new UpProcess(dataDir, [], { PIPELINE_WEBHOOK_SECRET: secret });
  url = await service.url;
});

afterAll(async () => {
  await service.stop('SIGTERM');
});

describe('pipeline up', () => {
  it('scores a file copied into the inbox exactly once, and reruns its job on a signed webhook request', async () => {
    // Copied in two writes with a pause between: the job starts only once the size settles.
    const iris = await readFile(join(root, 'samples/iris.jsonl'));
    const handle = await open(join(dataDir, 'inbox', 'iris.jsonl'), 'w');
    await handle.write(iris.subarray(0, 4000));
    await sleep(400);
    await handle.write(iris.subarray(4000));
    await handle.close();

    const [job] = await waitFor('the inbox job', async () => {
      const jobs = await jobsOf('iris.jsonl');
      return jobs.length > 0 && (await summary(jobs[0] ?? '')) ? jobs : undefined;
    });
    expect(await summary(job ?? '')).toMatchObject({
      status: 'Succeeded',
      records: { in: 150, out: 150, errors: 0 },
    });
    const scored = await readFile(join(dataDir, 'results', job ?? '', 'iris.jsonl.out'), 'utf8');
    expect(scored.split('\n')[0]).toMatch(/^\{"id":1,"SageMakerOutput":\[[\d.e-]+,[\d.e-]+,[\d.e-]+\]\}$/);
    // A few more rounds of the watcher start nothing more.
    await sleep(2000);
    expect(await jobsOf('iris.jsonl')).toEqual([job]);

    const unsigned = await post(JSON.stringify({ rerun: job }), {});
    expect(unsigned.status).toBe(401);
    const body = JSON.stringify({ rerun: job });
    const response = await post(body, signed(body));
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const rerun = await waitFor('the rerun', () => summary(jobId));
    expect(rerun).toMatchObject({ status: 'Succeeded', rerunOf: job, records: { in: 150, out: 150 } });
    expect(await readFile(join(dataDir, 'results', jobId, 'iris.jsonl.out'), 'utf8')).toBe(scored);
  }, 120_000);

  it('refuses oversized and malformed webhook bodies, starting nothing', async () => {
    const before = await queued();
    const big = JSON.stringify({ inputs: ['x'.repeat(300 * 1024)] });
    expect((await post(big, signed(big))).status).toBe(413);
    const notJson = '{"rerun":';
    expect((await post(notJson, signed(notJson))).status).toBe(400);
    expect(await queued()).toEqual(before);
  });

  it('scores a folder copied into the inbox with cp -r, its _SUCCESS marker within, once as one job', async () => {
    // A finished output made elsewhere: two files, one in a subfolder, a checksum and the marker.
    const lines = (await readFile(join(root, 'samples/iris.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const output = await mkdtemp(join(tmpdir(), 'pipeline-up-batch-'));
    await mkdir(join(output, 'sub'));
    await writeFile(join(output, 'a.jsonl'), `${lines.slice(0, 100).join('\n')}\n`);
    await writeFile(join(output, 'sub', 'b.jsonl'), `${lines.slice(100).join('\n')}\n`);
    await writeFile(join(output, '.a.jsonl.crc'), 'crc');
    await writeFile(join(output, '_SUCCESS'), '');

    await promisify(execFile)('cp', ['-r', output, join(dataDir, 'inbox', 'flowers')]);

    const [job] = await waitFor('the batch job', async () => {
      const jobs = await jobsOf('flowers/');
      return jobs.length > 0 && (await summary(jobs[0] ?? '')) ? jobs : undefined;
    });
    expect(job).toMatch(/^inbox-flowers-[0-9a-f]{20}$/);
    expect(await summary(job ?? '')).toMatchObject({
      status: 'Succeeded',
      records: { in: 150, out: 150, errors: 0 },
    });
    const scored = async (name: string) =>
      (await readFile(join(dataDir, 'results', job ?? '', name), 'utf8')).trim().split('\n');
    expect(await scored('a.jsonl.out')).toHaveLength(100);
    const b = await scored('sub/b.jsonl.out');
    expect(b).toHaveLength(50);
    expect(b[0]).toMatch(/^\{"id":101,"SageMakerOutput":\[[\d.e-]+,[\d.e-]+,[\d.e-]+\]\}$/);
    expect(await jobsOf('flowers/')).toEqual([job]);
  }, 120_000);

  it('stops on SIGTERM with exit status 0', async () => {
    expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
