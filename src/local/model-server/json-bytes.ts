/**
 * An answer body written straight into bytes. A prediction answer holds millions of numbers; written
 * as strings first, their garbage and their UTF-8 encoding cost more than inference itself.
 */
const encoder = new TextEncoder();

export class JsonBytes {
  #buffer: Uint8Array;
  #length = 0;

  /** `capacity`: the bytes expected, so that a body of the usual size is written without growing. */
  constructor(capacity = 4096) {
    this.#buffer = new Uint8Array(Math.max(capacity, 64));
  }

  /** Makes room for `count` more bytes; returns where they start. */
  reserve(count: number): number {
    const at = this.#length;
    if (at + count > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, at + count));
      grown.set(this.#buffer.subarray(0, at));
      this.#buffer = grown;
    }
    return at;
  }

  /** Where reserved bytes are written, from the index `reserve` gave; `advance` then counts them. */
  get buffer(): Uint8Array {
    return this.#buffer;
  }

  advance(count: number): void {
    this.#length += count;
  }

  byte(code: number): void {
    const at = this.reserve(1);
    this.#buffer[at] = code;
    this.#length++;
  }

  /** Any text, UTF-8 encoded. */
  text(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const at = this.reserve(text.length * 3);
    this.#length += encoder.encodeInto(text, this.#buffer.subarray(at)).written;
  }

  /** The body written so far, in a buffer of its own (it may be moved to another thread). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}
