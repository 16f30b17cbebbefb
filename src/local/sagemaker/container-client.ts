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

/** Characters of a failed answer's body quoted in a message. */
const EXCERPT_CHARS = 200;

/**
 * One request to the container's /invocations: its answer, whatever the status, or the error that kept
 * it from answering (a broken connection, a timeout). An aborted request is thrown, not answered.
 */
export async function invocation(
  client: ContainerClient,
  request: ContainerRequest,
): Promise<ContainerResponse | Error> {
  try {
    return await client.send('POST', '/invocations', request);
  } catch (error) {
    if (request.signal.aborted) throw error;
    return error as Error;
  }
}

export function succeeded(outcome: ContainerResponse | Error): outcome is ContainerResponse {
  return !(outcome instanceof Error) && outcome.status >= 200 && outcome.status < 300;
}

/** A failed request for a message: the error's text, or the status and the start of the body. */
export function describeFailure(outcome: ContainerResponse | Error): string {
  if (outcome instanceof Error) return outcome.message;
  const text = outcome.body.toString('utf8', 0, Math.min(outcome.body.length, EXCERPT_CHARS * 4));
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, EXCERPT_CHARS);
  return excerpt === '' ? `${outcome.status}` : `${outcome.status} ${excerpt}`;
}
