/**
 * CSV (RFC 4180) framing: a byte stream cut into records, each passed with its number and line.
 *
 * Framing rules:
 * - A record ends at LF or CRLF outside quotes; the last one may lack a line ending. A physical line
 *   that is empty or only "\r" is not a record (onSkipped). A UTF-8 byte order mark opening the input
 *   is dropped.
 * - A quoted field may hold commas, CR, LF and `""`. A quote inside an unquoted field, or text between
 *   a closing quote and the next comma, makes the record bad.
 * - An unterminated quote (the input ends inside a quoted field, or a record spanning several lines
 *   grows past maxRecordBytes inside a quoted field, or turns out malformed after its closing quote)
 *   quarantines only the physical line where the record started; the lines after it are read again as
 *   fresh CSV, so a single stray quote does not swallow its neighbours.
 * - A record over maxRecordBytes is not held: it is reported with its size and only its first
 *   RAW_KEEP_BYTES bytes.
 */
import { isUtf8 } from 'node:buffer';
import { PipelineError } from '../errors.ts';
import { parseCsvFields } from './csv-instances.ts';
import { recordTooLarge } from './limits.ts';
import { RAW_KEEP_BYTES, type ReaderOptions, type RecordHandler, type RecordReader } from './types.ts';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const EMPTY: Buffer = Buffer.alloc(0);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export const UNTERMINATED_QUOTE = 'unterminated quoted field';
export const QUOTE_IN_UNQUOTED = 'quote inside unquoted field';
export const TEXT_AFTER_QUOTE = 'text after closing quote';
export const INVALID_UTF8 = 'invalid UTF-8';

export interface CsvReaderOptions extends ReaderOptions {
  /**
   * The first record is a header: it is not passed to onRecord, record numbers start after it, and its
   * fields are available from `CsvReader.header()`. A header that cannot be read is reported through
   * onBadRecord with record number 0 and a reason starting with "header: ". Default false.
   */
  readonly header?: boolean;
}

export interface CsvReader extends RecordReader {
  /**
   * The header's fields, decoded. Set as soon as the header record is framed, so always before the
   * first onRecord call; undefined without a header option, before it is read, or when it is bad.
   */
  header(): string[] | undefined;
}

/** Where the scanner stands inside the current record. */
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just past a quote inside a quoted field: the next byte tells an escaped quote from a closing one. */
const QUOTE_SEEN = 3;
/** A closing quote then CR as the last byte of a chunk: valid only when LF comes next. */
const CLOSED_CR = 4;
const INVALID = 5;
type ScanState =
  | typeof FIELD_START
  | typeof UNQUOTED
  | typeof QUOTED
  | typeof QUOTE_SEEN
  | typeof CLOSED_CR
  | typeof INVALID;

export function createCsvReader(handler: RecordHandler, options: CsvReaderOptions): CsvReader {
  return new CsvRecordReader(handler, options);
}

function withoutCR(data: Buffer): Buffer {
  return data.length > 0 && data[data.length - 1] === CR ? data.subarray(0, data.length - 1) : data;
}

class CsvRecordReader implements CsvReader {
  private readonly handler: RecordHandler;
  private readonly input: string;
  private readonly max: number;
  private headerPending: boolean;
  private headerFields: string[] | undefined;
  private records = 0;
  /** 1-based physical line of the byte being scanned. */
  private line = 1;
  private ended = false;
  /** The first bytes of the input while they could still be a byte order mark; undefined once decided. */
  private bomProbe: Buffer | undefined = EMPTY;

  // The record being read.
  private active = false;
  private startLine = 1;
  private state: ScanState = FIELD_START;
  private reason = '';
  /** Offset within the record of its first LF (inside quotes), or -1 while it is on one line. */
  private firstLf = -1;
  /** The byte before the scan position, on the same line, is CR. */
  private lastCR = false;
  /**
   * Whether bytes are being kept in `held` (copied from earlier chunks). A normal record keeps all its
   * bytes. An oversize one keeps none, except the tail after the first LF inside an open quote, which
   * is what must be read again if that quote turns out to be unterminated.
   */
  private keeping = true;
  private held: Buffer[] = [];
  private heldSize = 0;
  private oversize = false;
  /** Bytes of an oversize record so far. */
  private size = 0;
  private rawHead = EMPTY;
  private rawLength = 0;
  private tailLine = 0;
  private sizeAtTail = 0;

  // Position of the next quote at or after qFrom in qBuf (-1: none), so that lines without quotes do
  // not each search the rest of the chunk.
  private qBuf = EMPTY;
  private qFrom = 0;
  private qAt = -1;

  constructor(handler: RecordHandler, options: CsvReaderOptions) {
    if (!Number.isSafeInteger(options.maxRecordBytes) || options.maxRecordBytes < 1) {
      throw new RangeError(`${options.input}: maxRecordBytes must be a positive integer`);
    }
    this.handler = handler;
    this.input = options.input;
    this.max = options.maxRecordBytes;
    this.headerPending = options.header === true;
  }

  header(): string[] | undefined {
    return this.headerFields;
  }

  push(chunk: Buffer): void {
    if (this.ended) throw new PipelineError(`${this.input}: data pushed after the end of the input`);
    if (chunk.length === 0) return;
    let buf = chunk;
    if (this.bomProbe !== undefined) {
      const seen = this.bomProbe.length === 0 ? chunk : Buffer.concat([this.bomProbe, chunk]);
      if (seen.length < BOM.length && BOM.subarray(0, seen.length).equals(seen)) {
        this.bomProbe = Buffer.from(seen);
        return;
      }
      this.bomProbe = undefined;
      buf = seen.subarray(0, BOM.length).equals(BOM) ? seen.subarray(BOM.length) : seen;
    }
    this.scan(buf, 0);
    this.qBuf = EMPTY;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.bomProbe !== undefined) {
      const probe = this.bomProbe;
      this.bomProbe = undefined;
      this.scan(probe, 0);
    }
    while (this.active) {
      if (this.oversize) {
        if (this.keeping && this.state === QUOTED) {
          this.recoverTail(0);
          continue;
        }
        this.reportOversize(this.size - (this.lastCR ? 1 : 0));
        this.reset();
        break;
      }
      if (this.firstLf >= 0 && (this.state === QUOTED || this.state === INVALID)) {
        this.recoverUnterminated(EMPTY, 0);
        continue;
      }
      this.finish(withoutCR(Buffer.concat(this.held, this.heldSize)), false);
    }
    this.qBuf = EMPTY;
  }

  /**
   * Reads `buf` from `from` on. Records wholly inside it are passed as views; the start of a record
   * running past its end is copied into `held`.
   */
  private scan(buf: Buffer, from: number): void {
    const n = buf.length;
    // UTF-8 split at LF bytes stays valid, so one check over the buffer's whole lines vouches for every
    // record that lies inside them. They begin after the end of a record still open from earlier buffers.
    const lastLf = buf.lastIndexOf(LF);
    const checkedFrom = this.active ? buf.indexOf(LF, from) + 1 : from;
    const wholeLinesValid = lastLf >= checkedFrom && isUtf8(buf.subarray(checkedFrom, lastLf));
    let pos = from;
    // Where the bytes kept for the current record (or oversize tail) begin in buf.
    let keepFrom = from;
    while (pos < n) {
      if (!this.active) {
        this.active = true;
        this.startLine = this.line;
        keepFrom = pos;
      }
      const lf = buf.indexOf(LF, pos);
      const end = lf === -1 ? n : lf;
      const cr = end > pos ? buf[end - 1] === CR : this.lastCR;
      let from = pos;
      if (this.keeping && this.heldSize + (end - keepFrom) - (cr ? 1 : 0) > this.max) {
        // Decide on the state at the first byte over the limit, so the outcome does not depend on
        // where chunks happen to end. (Before `pos` only when that byte is a CR that ended the last
        // chunk; the state after it leads to the same decision.)
        const over = Math.max(pos, keepFrom + this.max - this.heldSize);
        this.advance(buf, pos, over, false);
        if (this.oversize) {
          this.size += over - pos;
          this.keepRaw(buf, pos, over);
        }
        const resume = this.overflow(buf, keepFrom, over);
        if (resume >= 0) {
          pos = resume;
          keepFrom = resume;
          continue;
        }
        from = over;
      }
      this.advance(buf, from, end, lf !== -1);
      if (this.oversize) {
        this.size += end - from;
        this.keepRaw(buf, from, end);
      }
      if (lf === -1) {
        this.lastCR = cr;
        pos = n;
        break;
      }
      this.lastCR = false;
      pos = lf + 1;
      if (this.state === QUOTED) {
        if (this.oversize) {
          if (!this.keeping) {
            this.keeping = true;
            keepFrom = pos;
            this.tailLine = this.line + 1;
            this.sizeAtTail = this.size - (cr ? 1 : 0);
          }
          this.size += 1;
          this.keepRaw(buf, lf, lf + 1);
        } else if (this.firstLf < 0) {
          this.firstLf = this.heldSize + (lf - keepFrom);
        }
        this.line++;
        continue;
      }
      if (this.oversize) {
        this.line++;
        this.reportOversize(this.size - (cr ? 1 : 0));
        this.reset();
        continue;
      }
      if (this.state === INVALID && this.firstLf >= 0) {
        pos = this.recoverUnterminated(buf, keepFrom);
        keepFrom = pos;
        continue;
      }
      const record =
        this.heldSize === 0
          ? buf.subarray(keepFrom, lf)
          : Buffer.concat([...this.held, buf.subarray(keepFrom, lf)], this.heldSize + lf - keepFrom);
      this.line++;
      this.finish(withoutCR(record), wholeLinesValid && this.heldSize === 0 && keepFrom >= checkedFrom);
    }
    if (this.active && this.keeping && keepFrom < n) {
      this.held.push(Buffer.from(buf.subarray(keepFrom, n)));
      this.heldSize += n - keepFrom;
    }
  }

  /** Runs the field state machine over buf[i, end), which holds no LF. */
  private advance(buf: Buffer, i: number, end: number, lineEnds: boolean): void {
    let state = this.state;
    while (i < end) {
      switch (state) {
        case FIELD_START:
          if (buf[i] === QUOTE) {
            state = QUOTED;
            i++;
          } else {
            state = UNQUOTED;
          }
          break;
        case UNQUOTED: {
          const q = this.quoteAt(buf, i);
          if (q === -1 || q >= end) {
            state = buf[end - 1] === COMMA ? FIELD_START : UNQUOTED;
            i = end;
          } else if (q > i && buf[q - 1] === COMMA) {
            state = QUOTED;
            i = q + 1;
          } else {
            state = INVALID;
            this.reason = QUOTE_IN_UNQUOTED;
            i = end;
          }
          break;
        }
        case QUOTED: {
          const q = this.quoteAt(buf, i);
          if (q === -1 || q >= end) {
            i = end;
          } else {
            state = QUOTE_SEEN;
            i = q + 1;
          }
          break;
        }
        case QUOTE_SEEN: {
          const c = buf[i];
          if (c === QUOTE) {
            state = QUOTED;
          } else if (c === COMMA) {
            state = FIELD_START;
          } else if (c === CR && i + 1 === end) {
            if (!lineEnds) state = CLOSED_CR;
          } else {
            state = INVALID;
            this.reason = TEXT_AFTER_QUOTE;
            i = end;
            break;
          }
          i++;
          break;
        }
        case CLOSED_CR:
          state = INVALID;
          this.reason = TEXT_AFTER_QUOTE;
          i = end;
          break;
        default:
          i = end;
      }
    }
    this.state = state;
  }

  private quoteAt(buf: Buffer, i: number): number {
    if (buf !== this.qBuf || i < this.qFrom || (this.qAt !== -1 && i > this.qAt)) {
      this.qBuf = buf;
      this.qFrom = i;
      this.qAt = buf.indexOf(QUOTE, i);
    }
    return this.qAt;
  }

  /**
   * The kept bytes passed maxRecordBytes at buf[end]. Returns where to go on reading in buf after
   * a recovery, or -1 to go on from `end` with the record now oversize.
   */
  private overflow(buf: Buffer, keepFrom: number, end: number): number {
    if (this.oversize) {
      // The tail after an LF inside quotes is too long to be read again.
      if (this.state === QUOTED) return this.recoverTail(keepFrom);
      this.keeping = false;
      this.held = [];
      this.heldSize = 0;
      return -1;
    }
    if (this.firstLf >= 0 && (this.state === QUOTED || this.state === INVALID)) {
      return this.recoverUnterminated(buf, keepFrom);
    }
    this.size = this.heldSize + (end - keepFrom);
    this.rawHead = Buffer.alloc(RAW_KEEP_BYTES);
    this.rawLength = 0;
    for (const part of this.held) this.keepRaw(part, 0, part.length);
    this.keepRaw(buf, keepFrom, end);
    this.held = [];
    this.heldSize = 0;
    this.keeping = false;
    this.oversize = true;
    return -1;
  }

  /**
   * The record spans lines and its quoting is broken: quarantines its first line only and reads the
   * rest again (the held bytes after that line, then buf from the returned position).
   */
  private recoverUnterminated(buf: Buffer, keepFrom: number): number {
    const line = this.startLine;
    let bad: Buffer;
    let again = EMPTY;
    let resume: number;
    if (this.firstLf < this.heldSize) {
      const all = Buffer.concat(this.held, this.heldSize);
      bad = all.subarray(0, this.firstLf);
      again = all.subarray(this.firstLf + 1);
      resume = keepFrom;
    } else {
      const lf = keepFrom + this.firstLf - this.heldSize;
      bad = Buffer.concat([...this.held, buf.subarray(keepFrom, lf)], this.firstLf);
      resume = lf + 1;
    }
    this.reset();
    this.line = line + 1;
    this.reportBad(line, UNTERMINATED_QUOTE, withoutCR(bad));
    if (again.length > 0) this.scan(again, 0);
    return resume;
  }

  /**
   * An oversize record whose last open quote is unterminated: the record ends before the line that
   * quote runs onto, and the lines from there (held, then the current buffer from the returned position)
   * are read again.
   */
  private recoverTail(keepFrom: number): number {
    const tail = this.held;
    const tailSize = this.heldSize;
    const line = this.tailLine;
    this.reportOversize(this.sizeAtTail);
    this.reset();
    this.line = line;
    if (tailSize > 0) this.scan(Buffer.concat(tail, tailSize), 0);
    return keepFrom;
  }

  /** The record ended (its line ending removed) with no recovery to make. */
  private finish(data: Buffer, knownUtf8: boolean): void {
    const line = this.startLine;
    const state = this.state;
    const reason = this.reason;
    this.reset();
    if (state === INVALID) {
      this.reportBad(line, reason, data);
    } else if (state === QUOTED) {
      this.reportBad(line, UNTERMINATED_QUOTE, data);
    } else if (data.length === 0) {
      this.handler.onSkipped(line);
    } else if (!knownUtf8 && !isUtf8(data)) {
      this.reportBad(line, INVALID_UTF8, data);
    } else if (this.headerPending) {
      this.headerPending = false;
      this.headerFields = parseCsvFields(data);
    } else {
      this.records++;
      this.handler.onRecord(data, this.records, line);
    }
  }

  /** Adds buf[from, to) to the first bytes kept of an oversize record. */
  private keepRaw(buf: Buffer, from: number, to: number): void {
    const room = this.rawHead.length - this.rawLength;
    if (room <= 0 || to <= from) return;
    this.rawLength += buf.copy(this.rawHead, this.rawLength, from, Math.min(to, from + room));
  }

  private reportOversize(size: number): void {
    const raw = this.rawHead.subarray(0, this.rawLength);
    this.reportBad(this.startLine, recordTooLarge(size, this.max), raw, size);
  }

  private reportBad(line: number, reason: string, raw: Buffer, size = raw.length): void {
    let record: number;
    let why = reason;
    if (this.headerPending) {
      this.headerPending = false;
      record = 0;
      why = `header: ${reason}`;
    } else {
      this.records++;
      record = this.records;
    }
    const keep = size > this.max ? Math.min(raw.length, RAW_KEEP_BYTES, size) : raw.length;
    this.handler.onBadRecord({ record, line, reason: why, raw: Buffer.from(raw.subarray(0, keep)), size });
  }

  private reset(): void {
    this.active = false;
    this.state = FIELD_START;
    this.reason = '';
    this.firstLf = -1;
    this.lastCR = false;
    this.keeping = true;
    this.held = [];
    this.heldSize = 0;
    this.oversize = false;
    this.size = 0;
    this.rawHead = EMPTY;
    this.rawLength = 0;
  }
}
