import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const scoreOnce = fileURLToPath(new URL('../../support/score-once.ts', import.meta.url));
const irisModel = fileURLToPath(new URL('../../../samples/models/iris', import.meta.url));

describe('the model server in a process started with a long command line', () => {
  it('serves, as `pipeline run` over a thousand file names needs', async () => {
    // Prepare: as long a command line as a thousand inputs under a temporary folder make.
    const fileNames = Array.from({ length: 1000 }, (_, i) => `/tmp/pipeline-inputs/part-${i}.jsonl`);
    expect(fileNames.join(' ').length).toBeGreaterThan(30_000);
    const child = spawn(process.execPath, [scoreOnce, irisModel, ...fileNames], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });

    // Act
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];

    // Assess: no crash, and a real answer.
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const answer = JSON.parse(stdout) as { status: number; body: { predictions: number[][] } };
    expect(answer.status).toBe(200);
    expect(answer.body.predictions).toHaveLength(1);
    expect(answer.body.predictions[0]).toHaveLength(3);
  });
});
