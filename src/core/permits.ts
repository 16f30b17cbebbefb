interface Waiter {
  grant(): void;
}

/**
 * A fixed number of permits shared by many tasks: `take` waits until one is free, first come first
 * served, and `give` hands it back. Holds the requests of many inputs to one limit between them.
 */
export class Permits {
  #free: number;
  readonly #waiting: Waiter[] = [];

  constructor(count: number) {
    this.#free = Math.max(1, count);
  }

  /** Resolves once a permit is this caller's; rejects with the signal's reason when it is aborted first. */
  take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Hands a permit back: to the longest waiting caller, if any. */
  give(): void {
    const next = this.#waiting.shift();
    if (next) next.grant();
    else this.#free++;
  }
}
