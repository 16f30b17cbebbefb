/**
 * Reads the fixed-size header that opens each record (or part) of a binary framing, across chunks. A
 * header wholly inside one chunk is handed over as a view of it; one split across chunks is copied.
 */
export class HeaderReader {
  readonly #bytes: Buffer;
  readonly #onHeader: (header: Buffer) => void;
  #fill = 0;

  /** `onHeader` is given each complete header, valid only during the call. */
  constructor(size: number, onHeader: (header: Buffer) => void) {
    this.#bytes = Buffer.alloc(size);
    this.#onHeader = onHeader;
  }

  /** Whether the next header is yet to begin (no byte of it read). */
  get atStart(): boolean {
    return this.#fill === 0;
  }

  /** The bytes of a header begun but not complete. */
  partial(): Buffer {
    return this.#bytes.subarray(0, this.#fill);
  }

  clear(): void {
    this.#fill = 0;
  }

  /** Reads header bytes from `chunk` at `pos` and returns the position after them. */
  read(chunk: Buffer, pos: number): number {
    const size = this.#bytes.length;
    if (this.#fill === 0 && chunk.length - pos >= size) {
      this.#onHeader(chunk.subarray(pos, pos + size));
      return pos + size;
    }
    const n = Math.min(size - this.#fill, chunk.length - pos);
    chunk.copy(this.#bytes, this.#fill, pos, pos + n);
    this.#fill += n;
    if (this.#fill === size) {
      this.#fill = 0;
      this.#onHeader(this.#bytes);
    }
    return pos + n;
  }
}
