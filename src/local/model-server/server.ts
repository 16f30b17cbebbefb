/**
 * The local model server: an ONNX model in TensorFlow Serving layout behind the HTTP interfaces the
 * pipeline and its users talk to in the cloud.
 *
 * SageMaker container contract: `GET /ping`, `POST /invocations` (content types and the
 * `X-Amzn-SageMaker-Custom-Attributes` header as the SageMaker TFS container reads them),
 * `GET /execution-parameters`.
 * TFS REST API: `POST /v1/models/<name>[/versions/<v>]:predict|classify|regress`,
 * `GET /v1/models/<name>[/versions/<v>]` (status), `GET /v1/models/<name>[/versions/<v>]/metadata`.
 * Errors are TFS's `{"error": "..."}` with a 4xx status; inference runs on worker threads, so `/ping`
 * answers while a batch is being scored.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import type { TfsMethod } from '../../core/tfs/codec.ts';
import { RequestError } from '../errors.ts';
import { listen } from '../listen.ts';
import type { BodyKind } from './invocation.ts';
import { findModel } from './model-dir.ts';
import { InferencePool } from './pool.ts';
import { SIGNATURE_NAME, type Signature, type TensorInfo } from './tfs.ts';

export interface ModelServerOptions {
  /** A model folder in TensorFlow Serving layout, `<name>/<version>/model.onnx`; `<name>` names the model. */
  readonly modelDir: string;
  /** Default 0: any free port, which `url` then tells. (SageMaker containers listen on 8080.) */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Inference worker threads, each running one request at a time. Default: the cores, at most 4. */
  readonly workers?: number;
}

export interface RunningModelServer {
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  readonly modelName: string;
  /** The version served: the highest in the model folder. */
  readonly version: number;
  /** Stops accepting requests, drops open connections and stops the workers. */
  close(): Promise<void>;
}

const MAX_WORKERS = 4;
/** SageMaker's default payload limit, which /execution-parameters suggests. */
const MAX_PAYLOAD_IN_MB = 6;
/** Far above any payload SageMaker sends (100 MB at most), low enough that a stray upload cannot exhaust memory. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Longer than the idle timeout of common HTTP clients, so that the server is never the one closing a reused connection. */
const KEEP_ALIVE_MS = 65_000;

const METHODS: readonly TfsMethod[] = ['predict', 'classify', 'regress'];
const TFS_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata|:[a-z]+)?$/;
const CUSTOM_ATTRIBUTE = /tfs-[a-z-]+=[^,]+/g;

export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const { port = 0, host = '127.0.0.1' } = options;
  const model = await findModel(options.modelDir);
  const pool = await InferencePool.start(
    model.file,
    options.workers ?? Math.min(MAX_WORKERS, availableParallelism()),
  );
  const routes = new Routes(model.name, model.version, pool);
  const server = createServer((req, res) => {
    routes.handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestError) send(res, error.status, errorBody(error.message));
      else send(res, 500, errorBody(error instanceof Error ? error.message : String(error)));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  try {
    await listen(server, port, host);
  } catch (error) {
    await pool.close();
    throw error;
  }
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    modelName: model.name,
    version: model.version,
    close: async () => {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeAllConnections();
      await closed;
      await pool.close();
    },
  };
}

class Routes {
  private readonly name: string;
  private readonly version: number;
  private readonly pool: InferencePool;

  constructor(name: string, version: number, pool: InferencePool) {
    this.name = name;
    this.version = version;
    this.pool = pool;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/ping' && get) return send(res, 200, '');
    if (path === '/execution-parameters' && get) return sendJson(res, this.executionParameters());
    if (path === '/invocations' && req.method === 'POST') return this.invocations(req, res);
    const tfs = TFS_PATH.exec(path);
    if (tfs) {
      const [, name = '', version, suffix] = tfs;
      if (suffix === undefined && get) return sendJson(res, this.status(name, version));
      if (suffix === '/metadata' && get) return sendJson(res, this.metadata(name, version));
      const method = METHODS.find((known) => suffix === `:${known}`);
      if (method && req.method === 'POST') {
        return this.infer(res, 'tfs', method, name, version, await readBody(req));
      }
    }
    req.resume();
    throw new RequestError(`Malformed request: ${req.method} ${path}`, 404);
  }

  private async invocations(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const attributes = customAttributes(req.headers['x-amzn-sagemaker-custom-attributes']);
    const contentType = req.headers['content-type'];
    const kind = bodyKind(contentType);
    if (kind === undefined) {
      req.resume();
      throw new RequestError(`Unsupported Media Type: ${contentType || 'Unknown'}`, 415);
    }
    const methodName = attributes.get('tfs-method') ?? 'predict';
    const method = METHODS.find((known) => known === methodName);
    if (method === undefined) {
      req.resume();
      throw new RequestError(`tfs-method=${methodName}: expected predict, classify or regress`);
    }
    const name = attributes.get('tfs-model-name') ?? this.name;
    const body = await readBody(req);
    return this.infer(res, kind, method, name, attributes.get('tfs-model-version'), body);
  }

  private async infer(
    res: ServerResponse,
    kind: BodyKind,
    method: TfsMethod,
    name: string,
    version: string | undefined,
    body: Uint8Array,
  ): Promise<void> {
    this.servable(name, version);
    const answer = await this.pool.run(kind, method, body);
    send(res, answer.status, answer.body);
  }

  /** Throws TFS's 404 unless the request names this model and, if it names one, the version served. */
  private servable(name: string, version: string | undefined): void {
    if (name === this.name && (version === undefined || Number(version) === this.version)) return;
    const request = version === undefined ? `Latest(${name})` : `Specific(${name}, ${version})`;
    throw new RequestError(`Servable not found for request: ${request}`, 404);
  }

  private status(name: string, version: string | undefined): unknown {
    if (name !== this.name) throw new RequestError(`Could not find any versions of model ${name}`, 404);
    if (version !== undefined && Number(version) !== this.version) {
      throw new RequestError(`Could not find version ${version} of model ${name}`, 404);
    }
    return {
      model_version_status: [
        {
          version: String(this.version),
          state: 'AVAILABLE',
          status: { error_code: 'OK', error_message: '' },
        },
      ],
    };
  }

  private metadata(name: string, version: string | undefined): unknown {
    this.servable(name, version);
    const { inputs, outputs } = this.pool.signature;
    return {
      model_spec: { name: this.name, signature_name: '', version: String(this.version) },
      metadata: {
        signature_def: {
          signature_def: {
            [SIGNATURE_NAME]: {
              inputs: tensorInfos(inputs),
              outputs: tensorInfos(outputs),
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      },
    };
  }

  private executionParameters(): unknown {
    return {
      MaxConcurrentTransforms: this.pool.size,
      BatchStrategy: 'MULTI_RECORD',
      MaxPayloadInMB: MAX_PAYLOAD_IN_MB,
    };
  }
}

/** The `tfs-*` attributes, read as the SageMaker TFS container reads them. */
function customAttributes(header: string | string[] | undefined): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of String(header ?? '').match(CUSTOM_ATTRIBUTE) ?? []) {
    const [key, value, ...rest] = match.split('=');
    if (key !== undefined && value !== undefined && rest.length === 0) attributes.set(key, value.trim());
  }
  return attributes;
}

/** How an /invocations body is read, by content type (parameters such as charset aside). */
function bodyKind(contentType: string | undefined): BodyKind | undefined {
  const media = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  if (media === 'application/json' || media === 'application/jsonlines' || media === 'application/jsons') {
    return 'json';
  }
  return media === 'text/csv' ? 'csv' : undefined;
}

const DTYPES: Readonly<Record<string, string>> = {
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
  float16: 'DT_HALF',
  int8: 'DT_INT8',
  uint8: 'DT_UINT8',
  int16: 'DT_INT16',
  uint16: 'DT_UINT16',
  int32: 'DT_INT32',
  uint32: 'DT_UINT32',
  int64: 'DT_INT64',
  uint64: 'DT_UINT64',
  bool: 'DT_BOOL',
  string: 'DT_STRING',
};

/** Tensors as TFS metadata describes them; a symbolic dimension has size -1 and its name. */
function tensorInfos(tensors: Signature['inputs']): Record<string, unknown> {
  const info = ({ name, type, shape }: TensorInfo) => ({
    dtype: DTYPES[type] ?? 'DT_INVALID',
    tensor_shape: {
      dim: shape.map((dim) =>
        typeof dim === 'number' && dim >= 0
          ? { size: String(dim), name: '' }
          : { size: '-1', name: typeof dim === 'string' ? dim : '' },
      ),
      unknown_rank: false,
    },
    name,
  });
  return Object.fromEntries(tensors.map((tensor) => [tensor.name, info(tensor)]));
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        reject(
          new RequestError(`the request body is ${size} bytes, over the limit of ${MAX_BODY_BYTES}`, 413),
        );
        return;
      }
      // A buffer of its own (never a slice of Node's shared pool), since it is moved to a worker.
      const body = Buffer.allocUnsafeSlow(size);
      let at = 0;
      for (const chunk of chunks) {
        body.set(chunk, at);
        at += chunk.length;
      }
      resolve(body);
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete)
        reject(new RequestError('the client closed the connection before sending the whole body'));
    });
  });
}

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, JSON.stringify(value));
}

function send(res: ServerResponse, status: number, body: string | Uint8Array): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
  });
  res.end(body);
}
