import { Agent, type IncomingMessage, request } from 'node:http';
import { ContainerTimeoutError, ContainerUrlError } from '../errors.ts';

export interface ContainerResponse {
  readonly status: number;
  readonly body: Buffer;
}

export interface ContainerRequest {
  readonly body?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Calls a model container over HTTP/1.1 on kept-alive connections, as SageMaker's transform agent
 * does: one connection per concurrent request, reused from request to request.
 */
export class ContainerClient {
  readonly url: string;
  readonly #host: string;
  readonly #port: number;
  readonly #basePath: string;
  readonly #agent = new Agent({ keepAlive: true });

  constructor(url: string) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:') {
      throw new ContainerUrlError(`model server ${url}: only http:// URLs are supported`);
    }
    this.url = url;
    this.#host = parsed.hostname.replace(/^\[|\]$/g, '');
    this.#port = parsed.port === '' ? 80 : Number(parsed.port);
    this.#basePath = parsed.pathname.replace(/\/+$/, '');
  }

  /**
   * One request; resolves with whatever status the container answers. Rejects on a connection error,
   * on ContainerTimeoutError when the whole exchange takes longer than `timeoutMs`, and with the
   * signal's reason when it is aborted.
   */
  send(method: 'GET' | 'POST', path: string, options: ContainerRequest): Promise<ContainerResponse> {
    const { body, signal } = options;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      // The first reason the exchange was cut short wins over the socket errors it causes.
      let cut: unknown;
      const req = request({
        host: this.#host,
        port: this.#port,
        path: `${this.#basePath}${path}`,
        method,
        agent: this.#agent,
        headers: { ...options.headers, ...(body && { 'Content-Length': String(body.length) }) },
      });
      const stop = (reason: unknown): void => {
        cut ??= reason;
        req.destroy(reason instanceof Error ? reason : undefined);
      };
      const timer = setTimeout(
        () => stop(new ContainerTimeoutError(`timed out after ${options.timeoutMs / 1000} s`)),
        options.timeoutMs,
      );
      const onAbort = (): void => stop(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(cut ?? error);
      };
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
      });
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}
