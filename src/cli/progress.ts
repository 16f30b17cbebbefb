import type { EventLog } from '../local/runner.ts';

export interface ProgressOptions {
  readonly write: (text: string) => void;
  /** Rewrite one line in place (a terminal) or print a line now and then (a log). */
  readonly interactive: boolean;
  readonly now?: () => number;
  /** Milliseconds between two lines when not interactive. */
  readonly every?: number;
}

/**
 * Progress on a long job, for people: the step the state machine is in, and during the transform the
 * records scored, records per second and time left. The records to score are known once Shard has run.
 */
export class Progress {
  private readonly options: ProgressOptions;
  private readonly now: () => number;
  private step = '';
  private total = 0;
  private done = 0;
  private transformStart = 0;
  private lastLine = 0;
  private pending = false;

  constructor(options: ProgressOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** A state machine event: a top-level state entered, or a Shard finished with its counts. */
  onEvent(event: EventLog): void {
    if (event.type === 'StateExited' && event.state.name === 'Shard') {
      const output = event.state.output as { records?: { sent?: number } } | null;
      this.total += output?.records?.sent ?? 0;
      return;
    }
    if (event.type !== 'StateEntered' || event.index !== undefined) return;
    this.step = event.state.name;
    if (this.step === 'Transform') this.transformStart = this.now();
    this.print(true);
  }

  /** Records answered by the model. */
  onRecords(records: number): void {
    this.done += records;
    this.print(false);
  }

  /** Ends the line being rewritten. */
  finish(): void {
    if (this.pending) this.options.write('\n');
    this.pending = false;
  }

  line(): string {
    if (this.step !== 'Transform' || this.total === 0) return this.step;
    if (this.done === 0) return `Transform: ${this.total.toLocaleString('en-US')} records to score`;
    const seconds = (this.now() - this.transformStart) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const left = rate > 0 ? (this.total - this.done) / rate : undefined;
    return (
      `Transform: ${this.done.toLocaleString('en-US')} of ${this.total.toLocaleString('en-US')} records` +
      ` (${Math.round((100 * this.done) / this.total)}%), ${Math.round(rate).toLocaleString('en-US')} records/s` +
      (left !== undefined ? `, ${formatDuration(left)} left` : '')
    );
  }

  private print(stepChanged: boolean): void {
    const now = this.now();
    if (this.options.interactive) {
      if (!stepChanged && now - this.lastLine < 100) return;
      this.lastLine = now;
      this.options.write(`\r\x1b[2K${this.line()}`);
      this.pending = true;
      return;
    }
    if (!stepChanged && now - this.lastLine < (this.options.every ?? 5000)) return;
    this.lastLine = now;
    this.options.write(`${this.line()}\n`);
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
