/**
 * `node score-once.ts <model> [anything...]`: starts the model server on the model in this process,
 * scores one iris row, prints `{status, body}` and stops. The arguments after the model only make the
 * command line as long as a test needs.
 */
import { startModelServer } from '../../src/local/model-server/server.ts';

const [model] = process.argv.slice(2);
if (model === undefined) throw new Error('usage: node score-once.ts <model> [anything...]');
const server = await startModelServer({ model, workers: 2, log: () => undefined });
try {
  const response = await fetch(`${server.url}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
  });
  process.stdout.write(JSON.stringify({ status: response.status, body: await response.json() }));
} finally {
  await server.close();
}
