import { isAbsolute, resolve } from 'node:path';
import { LocalModelError } from './errors.ts';
import { MARKS } from './marks.ts';
import { WarmPools } from './model-server/pool.ts';
import { type RunningModelServer, startModelServer, warmModelServer } from './model-server/server.ts';
import type { ModelHost } from './sagemaker/model-host-port.ts';

/** The bucket name local mode gives SageMaker: `s3://local/<key>` is `<data dir>/<key>`. */
export const LOCAL_BUCKET = 'local';

export interface LocalModelHostOptions {
  /** The folder playing the bucket. */
  readonly dataDir: string;
  /** Where a relative model path starts (the working folder by default). */
  readonly baseDir?: string;
  /** A running container that speaks the SageMaker contract, used for every model instead of a local server. */
  readonly modelUrl?: string;
  readonly start?: (model: string) => Promise<RunningModelServer>;
}

/**
 * Plays SageMaker's model containers: a model folder in TFS layout, given as a path or as
 * `s3://local/<key>`, is served by the local model server, one per folder, shared by the jobs that use
 * it and closed when the last one lets go.
 */
export class LocalModelHost implements ModelHost {
  private readonly options: LocalModelHostOptions;
  private readonly servers = new Map<string, { server: Promise<RunningModelServer>; users: number }>();
  readonly #warm = new WarmPools();

  constructor(options: LocalModelHostOptions) {
    this.options = options;
  }

  /**
   * Starts loading a model folder's sessions ahead of the first job that serves it, while the steps
   * before scoring run. A model that cannot be loaded is reported by the job, when it starts its server.
   */
  prepare(modelDataUrl: string): void {
    if (this.options.modelUrl || this.options.start) return;
    let model: string;
    try {
      model = this.pathOf(modelDataUrl);
    } catch {
      return;
    }
    warmModelServer(model, this.#warm).catch(() => undefined);
  }

  async start(container: {
    modelDataUrl: string;
    environment?: Record<string, string>;
  }): Promise<{ url: string; close(): Promise<void> }> {
    const { modelUrl } = this.options;
    if (modelUrl) return { url: modelUrl.replace(/\/+$/, ''), close: async () => undefined };
    const model = this.pathOf(container.modelDataUrl);
    const environment = container.environment ?? {};
    const key = `${model}\n${JSON.stringify(environment)}`;
    let entry = this.servers.get(key);
    if (!entry) {
      const start =
        this.options.start ??
        ((path: string, env: Record<string, string>) =>
          startModelServer({ model: path, environment: { ...process.env, ...env }, warmPools: this.#warm }));
      performance.mark(MARKS.modelServerStarting);
      const server = start(model, environment);
      server.then(
        () => performance.mark(MARKS.modelServerReady),
        () => undefined,
      );
      entry = { server, users: 0 };
      this.servers.set(key, entry);
      server.catch(() => this.servers.delete(key));
    }
    entry.users++;
    const started = entry;
    const { url } = await started.server;
    let closed = false;
    return {
      url,
      close: async () => {
        if (closed) return;
        closed = true;
        started.users--;
        if (started.users > 0) return;
        this.servers.delete(key);
        await (await started.server).close();
      },
    };
  }

  /** Stops every server still running, and the sessions warmed for none. */
  async close(): Promise<void> {
    const entries = [...this.servers.values()];
    this.servers.clear();
    await Promise.allSettled(entries.map(async ({ server }) => (await server).close()));
    await this.#warm.close();
  }

  private pathOf(modelDataUrl: string): string {
    const bucketUrl = `s3://${LOCAL_BUCKET}/`;
    if (modelDataUrl.startsWith(bucketUrl)) {
      return resolve(this.options.dataDir, modelDataUrl.slice(bucketUrl.length));
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(modelDataUrl)) {
      throw new LocalModelError(
        `model ${modelDataUrl}: local mode serves a model folder in TFS layout (<name>/<version>/model.onnx) ` +
          'or a model.tar.gz, given as a path or as s3://local/<key in the data dir>; to score with another ' +
          'server (TensorFlow Serving for a SavedModel, such as a packaged TF-Hub model), give --model-url',
      );
    }
    return isAbsolute(modelDataUrl)
      ? modelDataUrl
      : resolve(this.options.baseDir ?? process.cwd(), modelDataUrl);
  }
}
