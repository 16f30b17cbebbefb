import { readFileSync } from 'node:fs';

/** A process of this machine, told apart from a later one given the same id. */
export interface ProcessIdentity {
  readonly pid: number;
  /**
   * When it started, as the kernel counts it (`<boot id>:<clock ticks since boot>`); undefined where
   * the system does not say (no /proc), and then only the id is checked.
   */
  readonly start?: string;
}

/** This process. */
export function thisProcess(): ProcessIdentity {
  return { pid: process.pid, start: startOf(process.pid) };
}

/**
 * Whether the process is still running: its id is in use, by the process that started when it did (a
 * pid is reused once its process has ended, by a restarted container's processes among others).
 */
export function isRunning(identity: ProcessIdentity): boolean {
  if (!isAlive(identity.pid)) return false;
  if (identity.start === undefined) return true;
  const start = startOf(identity.pid);
  return start === undefined || start === identity.start;
}

/** Whether a process with this id is running on this machine. */
export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: fields are counted after its closing one.
    // There the state is field 3 of proc(5), and the start time field 22.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return ticks === undefined ? undefined : `${bootId()}:${ticks}`;
  } catch {
    return undefined;
  }
}

let boot: string | undefined;

function bootId(): string {
  boot ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return boot;
}
