import { once } from 'node:events';
import { startModelServer } from '../local/model-server/server.ts';
import type { Output } from './usage.ts';

/** `pipeline serve`: the local model server alone, until interrupted. */
export async function serveCommand(
  options: { model: string; port: number; host: string },
  output: Output,
  stop: Promise<unknown> = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]),
): Promise<number> {
  const server = await startModelServer({
    model: options.model,
    port: options.port,
    host: options.host,
    log: (line) => output.stderr(`${line}\n`),
  });
  const models = server.models.map(({ name, versions }) => `${name} (versions ${versions.join(', ')})`);
  output.stderr(
    `Serving ${models.join('; ')} at ${server.url}; the default model is ${server.modelName}\n` +
      (server.inferenceScript ? '  POST /invocations goes through code/inference.py\n' : '') +
      `  POST ${server.url}/invocations, ${server.url}/v1/models/${server.modelName}:predict; Ctrl-C stops\n`,
  );
  output.stdout(`${server.url}\n`);
  await stop;
  await server.close();
  return 0;
}
