import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `pipeline run` over a data dir on a file system that fills up during the job: a 4 MB tmpfs, mounted
// in a mount namespace of the run's own (`unshare`, as root or in a user namespace), so nothing is
// needed beyond util-linux and nothing is left mounted.

const root = fileURLToPath(new URL('../../', import.meta.url));
const iris = (await readFile(join(root, 'samples/iris.jsonl'), 'utf8')).trim().split('\n');

// Mounts the tmpfs on $1, runs the pipeline command that follows (its data dir on the tmpfs), then
// prints a line `exit <status>`, what `pipeline status --json` says, and the files left on the tmpfs.
const ON_SMALL_DISK = `
mount -t tmpfs -o size=4m tmpfs "$1" || { echo "cannot mount a tmpfs here: unshare needs root or user namespaces"; exit 99; }
disk="$1"; shift
"$@"; echo "exit $?"
"${process.execPath}" "${join(root, 'bin/pipeline.js')}" status --data-dir "$disk/data" --json
cd "$disk" && find . -type f | sort
`;

describe('a disk that fills up during a job', () => {
  it('fails the job naming the cause, with no summary claiming success and nothing half-written left', async () => {
    // Prepare: 2 MB of input, which the disk holds, but not with the job's work files and results.
    const dir = await mkdtemp(join(tmpdir(), 'faults-disk-full-'));
    const disk = join(dir, 'disk');
    await mkdir(disk);
    const input = join(dir, 'flowers.jsonl');
    const rows = Array.from({ length: 32_000 }, (_, k) => {
      const flower = JSON.parse(iris[k % iris.length] ?? '{}') as Record<string, unknown>;
      return JSON.stringify({ ...flower, id: k + 1 });
    });
    await writeFile(input, `${rows.join('\n')}\n`);
    const job = join(dir, 'job.json');
    await writeFile(
      job,
      JSON.stringify({
        model: join(root, 'samples/models/iris'),
        dataProcessing: { inputFilter: '$.features', joinSource: 'Input' },
      }),
    );

    // Act
    const run = ['run', input, '--job', job, '--data-dir', join(disk, 'data'), '--json'];
    const child = spawn(
      'unshare',
      [
        ...['--user', '--map-root-user', '--mount', 'sh', '-c', ON_SMALL_DISK, 'sh', disk],
        ...[process.execPath, join(root, 'bin/pipeline.js'), ...run],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await once(child, 'exit');

    // Assess: what the run printed and exited with, what status says, and what is on the disk.
    const lines = stdout.trim().split('\n');
    const exit = lines.findIndex((line) => line.startsWith('exit '));
    expect(exit, `${stdout}\n${stderr}`).toBeGreaterThan(0);
    expect(lines[exit]).toBe('exit 1');
    const report = JSON.parse(lines[exit - 1] ?? '') as { jobId: string };
    const jobId = report.jobId;
    const cause = /^no space left on device \(ENOSPC\) writing \//;
    expect(report).toMatchObject({
      status: 'Failed',
      error: { name: 'StorageFullError', message: expect.stringMatching(cause) },
    });
    expect(stderr).toContain('Failed: StorageFullError: no space left on device (ENOSPC) writing ');
    expect(JSON.parse(lines[exit + 1] ?? '')).toEqual([
      expect.objectContaining({
        jobId,
        status: 'Failed',
        reason: expect.stringMatching(/^StorageFullError: no space left on device \(ENOSPC\)/),
      }),
    ]);
    // No summary, no work files, no model, nothing half-written: only the input and the job's records.
    expect(lines.slice(exit + 2)).toEqual([
      `./data/executions/${jobId}.json`,
      './data/inbox/flowers.jsonl',
      `./data/results/${jobId}/_job.json`,
    ]);
  }, 120_000);
});
