import type { EventLog } from '../local/runner.ts';

export interface ProgressOptions {
  readonly write: (text: string) => void;
  /** Rewrite one line in place (a terminal) or print a line now and then (a log). */
  readonly interactive: boolean;
  readonly now?: () => number;
  /** Milliseconds between two lines when not interactive. */
  readonly every?: number;
}

/** What progress needs of the plan: how many inputs, in which groups, and the objects a whole-object job sends. */
interface PlannedWork {
  readonly inputs?: { readonly count?: number };
  readonly groups?: readonly { readonly group: number; readonly count: number; readonly part?: number }[];
  readonly transform?: { readonly objects?: { readonly sent?: number } };
}

/**
 * Progress on a long job, for people: the step the state machine is in; for a job of many inputs, the
 * groups sharded and the inputs merged; during the transform the records scored, records per second
 * and time left. The records to score are known once Shard has run (a whole-object job's, once planned).
 */
export class Progress {
  private readonly options: ProgressOptions;
  private readonly now: () => number;
  private step = '';
  private total = 0;
  private done = 0;
  private inputs = 0;
  private groupSizes = new Map<number, number>();
  private groupsSharded = 0;
  private inputsMerged = 0;
  private wholeObjects = false;
  private transformStart = 0;
  private lastLine = 0;
  private pending = false;

  constructor(options: ProgressOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** A state machine event: a top-level state entered, the plan made, or a group sharded or merged. */
  onEvent(event: EventLog): void {
    if (event.type === 'StateExited') {
      this.onExited(event.state.name, event.state.output);
      return;
    }
    if (event.type !== 'StateEntered' || event.index !== undefined) return;
    this.step = event.state.name;
    if (this.step === 'Transform') this.transformStart = this.now();
    this.print(true);
  }

  private onExited(state: string, output: unknown): void {
    if (state === 'Plan') {
      const plan = (output as { plan?: PlannedWork } | null)?.plan;
      this.inputs = plan?.inputs?.count ?? 0;
      // A file split into parts is one input, merged with its first part.
      this.groupSizes = new Map(
        (plan?.groups ?? []).map((group) => [group.group, (group.part ?? 0) > 0 ? 0 : group.count]),
      );
      const objects = plan?.transform?.objects?.sent;
      this.wholeObjects = objects !== undefined;
      if (objects !== undefined) this.total = objects;
    } else if (state === 'Shard') {
      this.total += (output as { records?: { sent?: number } } | null)?.records?.sent ?? 0;
      this.groupsSharded++;
      this.print(false);
    } else if (state === 'Merge') {
      const group = (output as { group?: number } | null)?.group;
      this.inputsMerged += group === undefined ? 0 : (this.groupSizes.get(group) ?? 0);
      this.print(false);
    }
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
    const many = this.groupSizes.size > 1;
    if (this.step === 'ShardInputs' && many) {
      return `Shard: ${this.groupsSharded} of ${this.groupSizes.size} groups of inputs (${count(this.inputs)} inputs)`;
    }
    if (this.step === 'MergeOutputs' && this.inputs > 1) {
      return `Merge: ${count(this.inputsMerged)} of ${count(this.inputs)} inputs`;
    }
    if (this.step !== 'Transform' || this.total === 0) return this.step;
    const unit = this.wholeObjects ? 'objects' : 'records';
    if (this.done === 0) return `Transform: ${count(this.total)} ${unit} to score`;
    const seconds = (this.now() - this.transformStart) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const left = rate > 0 ? (this.total - this.done) / rate : undefined;
    return (
      `Transform: ${count(this.done)} of ${count(this.total)} ${unit}` +
      ` (${Math.round((100 * this.done) / this.total)}%), ${count(Math.round(rate))} ${unit}/s` +
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

function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
