/**
 * Requests sent side by side whose answers are used in the order the requests were made: at most
 * `limit` are out (sent, and not yet handed on), and the oldest is handed on first. This keeps outputs
 * in input order with bounded memory, whatever order the answers arrive in. A failure surfaces when
 * its turn comes.
 */
export class OrderedRequests<T> {
  readonly #pending: Promise<T>[] = [];
  readonly #limit: number;
  readonly #deliver: (answer: T) => Promise<void>;

  constructor(limit: number, deliver: (answer: T) => Promise<void>) {
    this.#limit = Math.max(1, limit);
    this.#deliver = deliver;
  }

  /** Takes a request; once `limit` are out, waits for the oldest and hands it on. */
  async add(request: Promise<T>): Promise<void> {
    // Awaited in turn below; a later failure must not go unhandled meanwhile.
    request.catch(() => undefined);
    this.#pending.push(request);
    await this.#handOn(this.#limit - 1);
  }

  /** Hands on every answer still out. */
  finish(): Promise<void> {
    return this.#handOn(0);
  }

  /** Waits until no request is running any more (once they are aborted, say). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#pending);
  }

  async #handOn(keep: number): Promise<void> {
    while (this.#pending.length > keep) {
      const answer = await (this.#pending[0] as Promise<T>);
      this.#pending.shift();
      await this.#deliver(answer);
    }
  }
}
