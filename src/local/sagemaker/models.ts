import type { ModelContainer, ModelHost, ModelServer } from './model-host-port.ts';

/**
 * A model as CreateModel made it, with the servers the ModelHost started for it: they stay up while the
 * model exists or a job still uses it.
 */
export class LocalModel {
  readonly name: string;
  readonly container: ModelContainer;
  readonly #host: ModelHost;
  /** Servers by the environment they were started with: a job's own Environment adds to the model's. */
  readonly #servers = new Map<string, Promise<ModelServer>>();
  /** Jobs using the model now; a deleted model's servers close when the last one ends. */
  #running = 0;
  #deleted = false;

  constructor(name: string, container: ModelContainer, host: ModelHost) {
    this.name = name;
    this.container = container;
    this.#host = host;
  }

  /** Runs a job that uses the model's servers; a deleted model's servers close when the last job ends. */
  async use<T>(job: () => Promise<T>): Promise<T> {
    this.#running++;
    try {
      return await job();
    } finally {
      this.#running--;
      if (this.#deleted && this.#running === 0) await this.closeServers();
    }
  }

  /** The model's server for this environment, started on first use; a start that fails is not kept. */
  server(environment: Record<string, string>): Promise<ModelServer> {
    const key = JSON.stringify(Object.entries(environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let server = this.#servers.get(key);
    if (!server) {
      server = this.#host.start({ ...this.container, environment });
      this.#servers.set(key, server);
      const started = server;
      started.then(undefined, () => {
        if (this.#servers.get(key) === started) this.#servers.delete(key);
      });
    }
    return server;
  }

  /** Marks the model deleted: its servers close now, or when the last job using it ends. */
  async delete(): Promise<void> {
    this.#deleted = true;
    if (this.#running === 0) await this.closeServers();
  }

  async closeServers(): Promise<void> {
    const starting = [...this.#servers.values()];
    this.#servers.clear();
    // A server that never started was reported to the job that asked for it; there is nothing to close.
    for (const outcome of await Promise.allSettled(starting)) {
      if (outcome.status === 'fulfilled') await outcome.value.close();
    }
  }
}
