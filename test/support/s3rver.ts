import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { multipartUpload } from '../../src/adapters/s3-multipart.ts';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-store.ts';

export interface S3rver {
  readonly endpoint: string;
  stop(): void;
}

/** A real S3-compatible server (s3rver) in its own process, on a free loopback port, with one bucket. */
export async function startS3rver(bucket: string): Promise<S3rver> {
  const port = await freePort();
  const directory = await mkdtemp(join(tmpdir(), 'pipeline-s3rver-'));
  const bin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  // Truncated listings fail under OpenSSL 3 without the legacy provider (s3rver's use of MD5).
  const args = ['--openssl-legacy-provider', bin, '-d', directory, '-a', '127.0.0.1', '-p', String(port)];
  const server = spawn(process.execPath, [...args, '--configure-bucket', bucket, '--silent'], {
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  const probe = new S3ObjectStore({ bucket, upload: multipartUpload, client: createS3Client({ endpoint }) });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await probe.head('ready-check');
      return { endpoint, stop: () => server.kill() };
    } catch (error) {
      if (Date.now() > deadline) {
        server.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
