import './support/quiet.ts';
import { mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../../src/core/steps/finish.ts';
import { startLocalService } from '../../src/local/service.ts';
import {
  doublingModel,
  leftovers,
  NOTHING_LEFT,
  openFiles,
  settled,
  withinSeconds,
} from './support/harness.ts';

// A flood: 200 files dropped into the inbox of the local service at once, scored by the local model
// server, a few executions at a time. Memory and open files are sampled all along.

const FILES = 200;
const CONCURRENCY = 4;
const MB = 1024 * 1024;

/** File n holds n % 7 + 1 good records, and every fifth file one line more that cannot be read. */
function fileContent(n: number): { text: string; good: number; bad: number } {
  const good = (n % 7) + 1;
  const rows = Array.from({ length: good }, (_, k) => `{"id":${k},"features":[${n},${k}]}`);
  const bad = n % 5 === 0 ? 1 : 0;
  if (bad) rows.splice(1, 0, '{"features":[1,');
  return { text: `${rows.join('\n')}\n`, good, bad };
}

describe(`${FILES} files dropped into the inbox at once`, () => {
  it('are all scored with their counts reconciled, a few at a time, in bounded memory and open files', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'faults-load-'));
    const staging = join(dataDir, 'staging');
    await mkdir(staging, { recursive: true });
    await mkdir(join(dataDir, 'inbox'), { recursive: true });
    await mkdir(join(dataDir, 'config'), { recursive: true });
    await doublingModel(join(dataDir, 'models', 'double'));
    await writeFile(
      join(dataDir, 'config', 'default-job.json'),
      JSON.stringify({
        model: 'models/double',
        dataProcessing: { inputFilter: '$.features' },
        maxErrorPercent: 50,
      }),
    );
    const expected = new Map<string, { good: number; bad: number }>();
    for (let n = 0; n < FILES; n++) {
      const { text, good, bad } = fileContent(n);
      await writeFile(join(staging, `file-${n}.jsonl`), text);
      expected.set(`file-${n}.jsonl`, { good, bad });
    }

    const filesBefore = openFiles();
    const memoryBefore = process.memoryUsage().rss;
    let peakFiles = filesBefore;
    let peakMemory = memoryBefore;
    const sampler = setInterval(() => {
      peakFiles = Math.max(peakFiles, openFiles());
      peakMemory = Math.max(peakMemory, process.memoryUsage().rss);
    }, 50);
    let running = 0;
    let mostRunning = 0;
    let ended = 0;
    let allEnded = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      allEnded = resolve;
    });
    const service = await startLocalService({
      dataDir,
      port: 0,
      secret: 'a-local-webhook-secret',
      pollMs: 200,
      settleMs: 400,
      sidecarSeconds: 0,
      concurrency: CONCURRENCY,
      log: (line) => {
        if (/^inbox-\S+: started$/.test(line)) mostRunning = Math.max(mostRunning, ++running);
        else if (/^inbox-\S+: (Succeeded|Failed)/.test(line)) {
          running--;
          if (++ended === FILES) allEnded();
        }
      },
    });

    // Act: every file appears in the inbox at the same moment, each whole.
    for (let n = 0; n < FILES; n++) {
      await rename(join(staging, `file-${n}.jsonl`), join(dataDir, 'inbox', `file-${n}.jsonl`));
    }
    await withinSeconds(240, done);
    const executions = await service.stack.executions.list();
    await service.close();
    clearInterval(sampler);

    // Assess: every file scored once, and nothing lost.
    expect(executions.map((e) => e.status)).toEqual(Array(FILES).fill('SUCCEEDED'));
    const seen = new Set<string>();
    for (const execution of executions) {
      const summary = JSON.parse(
        await readFile(join(dataDir, 'results', execution.name, '_summary.json'), 'utf8'),
      ) as JobSummary;
      const [input] = summary.inputs;
      const want = expected.get(input?.key ?? '');
      expect(want, `${execution.name} scored ${input?.key}`).toBeDefined();
      seen.add(input?.key ?? '');
      expect(summary.records).toEqual({
        in: (want?.good ?? 0) + (want?.bad ?? 0),
        out: want?.good,
        errors: want?.bad,
      });
    }
    expect(seen.size).toBe(FILES);
    expect(mostRunning).toBeLessThanOrEqual(CONCURRENCY);
    expect(await leftovers(dataDir)).toEqual(NOTHING_LEFT);
    // Bounded: far from growing with the number of files, and let go of once the service stops.
    expect(peakFiles - filesBefore).toBeLessThan(100);
    expect(peakMemory - memoryBefore).toBeLessThan(500 * MB);
    // A few are opened once for good by onnxruntime when it first loads.
    await settled(() => openFiles() <= filesBefore + 8);
    expect(openFiles()).toBeLessThanOrEqual(filesBefore + 8);
  }, 300_000);
});
