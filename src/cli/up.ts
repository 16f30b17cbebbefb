import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startLocalService } from '../local/service.ts';
import type { Output } from './usage.ts';

/**
 * `pipeline up`: the local stack as a service until SIGINT or SIGTERM, after which the jobs under way
 * have `graceSeconds` to end. The webhook's secret is PIPELINE_WEBHOOK_SECRET, or one made on first
 * start and kept in `<data dir>/config/webhook-secret` (readable by its owner only); it is never printed.
 */
export async function upCommand(
  options: {
    dataDir: string;
    port: number;
    host: string;
    modelUrl?: string;
    settleSeconds: number;
    graceSeconds: number;
  },
  output: Output,
  stop: Promise<unknown> = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]),
): Promise<number> {
  const dataDir = resolve(options.dataDir);
  for (const folder of ['inbox', 'results', 'config'])
    await mkdir(join(dataDir, folder), { recursive: true });
  const { secret, source } = await webhookSecret(dataDir);
  const service = await startLocalService({
    dataDir,
    port: options.port,
    host: options.host,
    secret,
    sidecarSeconds: options.settleSeconds,
    ...(options.modelUrl !== undefined && { modelUrl: options.modelUrl }),
    log: (line) => output.stderr(`${new Date().toISOString()} ${line}\n`),
  });
  output.stderr(
    [
      `Pipeline up over ${dataDir}`,
      `  inbox:    drop files into ${join(dataDir, 'inbox')}/ (job spec: ${join(dataDir, 'config', 'default-job.json')} or <file>.job.json)`,
      '            or a folder of files with a _SUCCESS marker in it: one job over the folder',
      `  results:  ${join(dataDir, 'results')}/<jobId>/`,
      `  webhook:  POST ${service.url}/runs, signed with the secret in ${source}`,
      `  nightly:  ${service.nextNightly ? `next run ${service.nextNightly.toISOString()}` : 'not scheduled'} (config/nightly.json)`,
      `  Ctrl-C stops: jobs under way get ${options.graceSeconds} s to end, the rest resume on the next start`,
      '',
    ].join('\n'),
  );
  output.stdout(`${service.url}\n`);
  await stop;
  output.stderr('Stopping: no new jobs are taken\n');
  const left = await service.close(options.graceSeconds * 1000);
  // Their steps still run in this process: ending it leaves them as a crash would, for the next start.
  if (left.length > 0) process.exit(0);
  return 0;
}

async function webhookSecret(dataDir: string): Promise<{ secret: string; source: string }> {
  const fromEnvironment = process.env.PIPELINE_WEBHOOK_SECRET;
  if (fromEnvironment) return { secret: fromEnvironment, source: 'PIPELINE_WEBHOOK_SECRET' };
  const path = join(dataDir, 'config', 'webhook-secret');
  try {
    return { secret: (await readFile(path, 'utf8')).trim(), source: path };
  } catch {
    const secret = randomBytes(32).toString('hex');
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, source: path };
  }
}
