import { MARKS } from '../local/marks.ts';

/**
 * Where the time of a `pipeline run` went, from the marks it left: process start, loading the
 * modules, loading the state machine, the steps before the model server is needed, starting it, and
 * scoring with the merge after it.
 */
/** `Timings: process start 0.05 s, modules 0.21 s, ...; 1.02 s in all`, for the phases that were marked. */
export function describeTimings(): string {
  const at = (name: string): number | undefined =>
    performance.getEntriesByName(name, 'mark').at(-1)?.startTime;
  const phases: [string, string, string][] = [
    ['modules', MARKS.start, MARKS.command],
    ['state machine', MARKS.command, MARKS.stateMachine],
    ['steps before scoring', MARKS.stateMachine, MARKS.modelServerStarting],
    ['model server start', MARKS.modelServerStarting, MARKS.modelServerReady],
    ['scoring and merge', MARKS.modelServerReady, MARKS.done],
  ];
  const parts = [`process start ${seconds(at(MARKS.start) ?? 0)}`];
  for (const [label, from, to] of phases) {
    const [begin, end] = [at(from), at(to)];
    if (begin !== undefined && end !== undefined) parts.push(`${label} ${seconds(end - begin)}`);
  }
  return `Timings: ${parts.join(', ')}; ${seconds(at(MARKS.done) ?? performance.now())} in all\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
