import { once } from 'node:events';
import { startModelServer } from '../local/model-server/server.ts';
import { UsageError } from './errors.ts';
import type { Output } from './usage.ts';

/** `pipeline serve`: the local model server alone, until interrupted. */
export async function serveCommand(
  options: { model: string | undefined; port: number; host: string },
  output: Output,
  stop: Promise<unknown> = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]),
): Promise<number> {
  if (!options.model) throw new UsageError('serve needs --model <folder>');
  const server = await startModelServer({ model: options.model, port: options.port, host: options.host });
  output.stderr(
    `Serving ${server.modelName} version ${server.version} at ${server.url}\n` +
      `  POST ${server.url}/invocations, ${server.url}/v1/models/${server.modelName}:predict; Ctrl-C stops\n`,
  );
  output.stdout(`${server.url}\n`);
  await stop;
  await server.close();
  return 0;
}
