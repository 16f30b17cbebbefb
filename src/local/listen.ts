import type { Server } from 'node:http';

/** Starts `server` listening; rejects when the port cannot be had (in use, say) instead of crashing. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
