/**
 * The local model server: the models of a model root (a folder, or a model.tar.gz) in TensorFlow
 * Serving layout, on onnxruntime, behind the HTTP interfaces the pipeline and its users talk to in the
 * cloud.
 *
 * SageMaker container contract: `GET /ping`, `POST /invocations` (content types and the
 * `X-Amzn-SageMaker-Custom-Attributes` header as the SageMaker TFS container reads them; through the
 * model's code/inference.py when it has one), `GET /execution-parameters`.
 * TFS REST API: `POST /v1/models/<name>[/versions/<v>]:predict|classify|regress`,
 * `GET /v1/models/<name>[/versions/<v>]` (status), `GET /v1/models/<name>[/versions/<v>]/metadata`.
 * Every version of every model serves; a request that names no version gets the highest.
 * Errors are TFS's `{"error": "..."}` with a 4xx status; inference runs on worker threads, so `/ping`
 * answers while a batch is being scored.
 */
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import type { TfsMethod } from '../../core/tfs/codec.ts';
import { RequestError } from '../errors.ts';
import { InferenceScript, type ScriptContext } from '../inference-script/service.ts';
import { listen } from '../listen.ts';
import { openModel } from './artifact.ts';
import type { BodyKind } from './invocation.ts';
import type { ServedModel } from './model-dir.ts';
import { InferencePool, type WarmPools } from './pool.ts';
import { dtypeOf } from './tensor-types.ts';
import { SIGNATURE_NAME, type Signature, type TensorInfo } from './tfs.ts';

export interface ModelServerOptions {
  /**
   * A model folder in TensorFlow Serving layout (`<name>/<version>/model.onnx`), a model root as
   * model.tar.gz lays it out (version or `<name>/<version>/` folders, optional `code/`), or the .tar.gz.
   */
  readonly model: string;
  /** Default 0: any free port, which `url` then tells. (SageMaker containers listen on 8080.) */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Inference worker threads, each running one request at a time. Default: the cores, at most 4. */
  readonly workers?: number;
  /**
   * The container's environment: SAGEMAKER_TFS_DEFAULT_MODEL_NAME or TFS_DEFAULT_MODEL_NAME (the
   * default model of several),
   * SAGEMAKER_GUNICORN_WORKERS (inference.py workers; default one per core), and what the script sees.
   * Default: this process's.
   */
  readonly environment?: NodeJS.ProcessEnv;
  /** Where inference.py's output goes; default stderr. */
  readonly log?: (line: string) => void;
  /** The most a model.tar.gz may unpack to. */
  readonly maxUnpackedBytes?: number;
  /** Pools started ahead: the server takes the one warmed for its model, if any. */
  readonly warmPools?: WarmPools;
}

export interface RunningModelServer {
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  /** The default model: the one a request that names none gets. */
  readonly modelName: string;
  /** The default model's highest version, which a request that names none gets. */
  readonly version: number;
  /** Every model served and its versions, highest first. */
  readonly models: readonly { readonly name: string; readonly versions: readonly number[] }[];
  /** Whether /invocations goes through the model's code/inference.py. */
  readonly inferenceScript: boolean;
  /** Stops accepting requests, drops open connections and stops the workers. */
  close(): Promise<void>;
}

const MAX_WORKERS = 4;

/** The inference threads a server starts when not told: the cores of this machine, at most MAX_WORKERS. */
export function defaultWorkers(): number {
  return Math.min(MAX_WORKERS, availableParallelism());
}
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
  const { port = 0, host = '127.0.0.1', environment = process.env } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const artifact = await openModel(options.model, {
    ...defaultModelOf(environment),
    ...(options.maxUnpackedBytes !== undefined && { maxUnpackedBytes: options.maxUnpackedBytes }),
  });
  let pool: InferencePool | undefined;
  let script: InferenceScript | undefined;
  const server = createServer();
  const stop = async () => {
    await script?.close();
    await pool?.close();
    await artifact.close();
  };
  try {
    const servables = artifact.models.flatMap((model) => model.versions.map(({ file }) => file));
    const workers = options.workers ?? defaultWorkers();
    pool = await (options.warmPools?.take(servables, workers) ?? InferencePool.start(servables, workers));
    const routes = new Routes(artifact.models, artifact.defaultModel, pool);
    server.on('request', (req, res) => {
      routes.handle(req, res).catch((error: unknown) => {
        if (error instanceof RequestError) send(res, error.status, errorBody(error.message));
        else send(res, 500, errorBody(error instanceof Error ? error.message : String(error)));
      });
    });
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    await listen(server, port, host);
    const { port: bound } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    if (artifact.codeDir !== undefined) {
      script = await InferenceScript.start({
        codeDir: artifact.codeDir,
        workers: Number(environment.SAGEMAKER_GUNICORN_WORKERS) || availableParallelism(),
        environment,
        log,
        callModel: async (uri, body) => {
          const answer = await routes.tfs('POST', new URL(uri).pathname, body);
          const bytes = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
          return {
            status: answer.status,
            headers: { 'Content-Type': 'application/json', 'Content-Length': String(bytes.byteLength) },
            body: bytes,
          };
        },
      });
      routes.useScript(script, restBase(host, bound));
    }
    return {
      url,
      modelName: artifact.defaultModel.name,
      version: artifact.defaultModel.versions[0]?.version ?? 0,
      models: artifact.models.map(({ name, versions }) => ({
        name,
        versions: versions.map((v) => v.version),
      })),
      inferenceScript: script !== undefined,
      close: async () => {
        const closed = new Promise<void>((resolve, reject) =>
          server.close((error) => (error ? reject(error) : resolve())),
        );
        server.closeAllConnections();
        await closed;
        await stop();
      },
    };
  } catch (error) {
    if (server.listening) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await stop();
    throw error;
  }
}

/**
 * Warms, in `pools`, the inference pool that a server started on this model with this environment
 * would start, so that loading its sessions overlaps other work. Only a model folder: an archive is
 * unpacked anew by each server.
 */
export async function warmModelServer(
  model: string,
  pools: WarmPools,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (!(await stat(model)).isDirectory()) return;
  const artifact = await openModel(model, defaultModelOf(environment));
  pools.warm(
    artifact.models.flatMap((served) => served.versions.map(({ file }) => file)),
    defaultWorkers(),
  );
}

/** The model a request that names none gets, as the container's environment names it. */
function defaultModelOf(environment: NodeJS.ProcessEnv): { defaultModelName?: string } {
  const name = environment.SAGEMAKER_TFS_DEFAULT_MODEL_NAME || environment.TFS_DEFAULT_MODEL_NAME;
  return name ? { defaultModelName: name } : {};
}

/** Where the script's context.rest_uri points: this server, reached on loopback when it listens on every address. */
function restBase(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

interface Answer {
  readonly status: number;
  readonly body: Uint8Array | string;
}

class Routes {
  private readonly models: readonly ServedModel[];
  private readonly defaultModel: ServedModel;
  private readonly pool: InferencePool;
  /** Each model's versions' servable numbers in the pool, by name and version. */
  private readonly servables = new Map<string, Map<number, number>>();
  private script: { service: InferenceScript; restBase: string } | undefined;

  constructor(models: readonly ServedModel[], defaultModel: ServedModel, pool: InferencePool) {
    this.models = models;
    this.defaultModel = defaultModel;
    this.pool = pool;
    let index = 0;
    for (const model of models) {
      this.servables.set(model.name, new Map(model.versions.map(({ version }) => [version, index++])));
    }
  }

  useScript(service: InferenceScript, restBase: string): void {
    this.script = { service, restBase };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/ping' && get) return send(res, 200, '');
    if (path === '/execution-parameters' && get) return sendJson(res, this.executionParameters());
    if (path === '/invocations' && req.method === 'POST') return this.invocations(req, res);
    if (TFS_PATH.test(path) && (get || req.method === 'POST')) {
      const answer = await this.tfs(
        req.method === 'POST' ? 'POST' : 'GET',
        path,
        get ? undefined : await readBody(req),
      );
      return send(res, answer.status, answer.body);
    }
    req.resume();
    throw new RequestError(`Malformed request: ${req.method} ${path}`, 404);
  }

  /** A TFS REST API request, answered with TFS's status and body (errors included). */
  async tfs(method: 'GET' | 'POST', path: string, body: Uint8Array | undefined): Promise<Answer> {
    try {
      const [, name = '', version, suffix] = TFS_PATH.exec(path) ?? [];
      if (method === 'GET' && suffix === undefined) return json(this.status(name, version));
      if (method === 'GET' && suffix === '/metadata') return json(this.metadata(name, version));
      const tfsMethod = METHODS.find((known) => suffix === `:${known}`);
      if (method === 'POST' && tfsMethod && body)
        return await this.infer('tfs', tfsMethod, name, version, body);
      throw new RequestError(`Malformed request: ${method} ${path}`, 404);
    } catch (error) {
      if (error instanceof RequestError) return { status: error.status, body: errorBody(error.message) };
      throw error;
    }
  }

  private async invocations(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const header = req.headers['x-amzn-sagemaker-custom-attributes'];
    const attributes = customAttributes(header);
    const contentType = req.headers['content-type'];
    if (this.script) {
      const context = this.scriptContext(req, attributes, this.script.restBase);
      const answer = await this.script.service.invoke(context, await readBody(req));
      return send(res, answer.status, answer.body, answer.contentType);
    }
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
    const name = attributes.get('tfs-model-name') ?? this.defaultModel.name;
    const body = await readBody(req);
    const answer = await this.infer(kind, method, name, attributes.get('tfs-model-version'), body);
    send(res, answer.status, answer.body);
  }

  /** The container's Context for a request (tfs_utils.parse_request): only rest_uri gets defaults. */
  private scriptContext(
    req: IncomingMessage,
    attributes: Map<string, string>,
    restBase: string,
  ): ScriptContext {
    const name = attributes.get('tfs-model-name');
    const version = attributes.get('tfs-model-version');
    const method = attributes.get('tfs-method');
    const header = (key: string) => {
      const value = req.headers[key];
      return (Array.isArray(value) ? value.join(', ') : value) || null;
    };
    const length = header('content-length');
    return {
      model_name: name ?? null,
      model_version: version ?? null,
      method: method ?? null,
      rest_uri: `${restBase}/v1/models/${name ?? this.defaultModel.name}${version ? `/versions/${version}` : ''}:${method ?? 'predict'}`,
      grpc_port: null,
      custom_attributes: header('x-amzn-sagemaker-custom-attributes'),
      request_content_type: header('content-type') ?? 'application/json',
      accept_header: header('accept') ?? 'application/json',
      content_length: length === null ? null : Number(length),
    };
  }

  private async infer(
    kind: BodyKind,
    method: TfsMethod,
    name: string,
    version: string | undefined,
    body: Uint8Array,
  ): Promise<Answer> {
    const servable = this.servable(name, version);
    return this.pool.run(servable, kind, method, body);
  }

  /** The pool's servable for a request, or TFS's 404 when the model or the version is not served. */
  private servable(name: string, version: string | undefined): number {
    const versions = this.servables.get(name);
    const model = this.models.find((known) => known.name === name);
    const wanted = version === undefined ? model?.versions[0]?.version : Number(version);
    const servable = wanted === undefined ? undefined : versions?.get(wanted);
    if (servable !== undefined) return servable;
    const request = version === undefined ? `Latest(${name})` : `Specific(${name}, ${version})`;
    throw new RequestError(`Servable not found for request: ${request}`, 404);
  }

  private status(name: string, version: string | undefined): unknown {
    const model = this.models.find((known) => known.name === name);
    if (!model) throw new RequestError(`Could not find any versions of model ${name}`, 404);
    const versions =
      version === undefined ? model.versions : model.versions.filter((v) => v.version === Number(version));
    if (versions.length === 0)
      throw new RequestError(`Could not find version ${version} of model ${name}`, 404);
    return {
      model_version_status: versions.map((v) => ({
        version: String(v.version),
        state: 'AVAILABLE',
        status: { error_code: 'OK', error_message: '' },
      })),
    };
  }

  private metadata(name: string, version: string | undefined): unknown {
    const servable = this.servable(name, version);
    const signature = this.pool.signatures[servable];
    if (!signature) throw new Error(`no signature for servable ${servable}`);
    const served = version ?? String(this.models.find((model) => model.name === name)?.versions[0]?.version);
    return {
      model_spec: { name, signature_name: '', version: String(Number(served)) },
      metadata: {
        signature_def: {
          signature_def: {
            [SIGNATURE_NAME]: {
              inputs: tensorInfos(signature.inputs),
              outputs: tensorInfos(signature.outputs),
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

/**
 * Tensors as TFS metadata describes them; a symbolic dimension has size -1 and its name, and a tensor
 * of no declared shape is of unknown rank.
 */
function tensorInfos(tensors: Signature['inputs']): Record<string, unknown> {
  const info = ({ name, type, shape }: TensorInfo) => ({
    dtype: dtypeOf(type),
    tensor_shape:
      shape.length === 0
        ? { dim: [], unknown_rank: true }
        : {
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

function json(value: unknown): Answer {
  return { status: 200, body: JSON.stringify(value) };
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, JSON.stringify(value));
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  contentType = 'application/json',
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
  });
  res.end(body);
}
