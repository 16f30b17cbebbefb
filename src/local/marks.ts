/**
 * Names of the performance marks (performance.mark, in this process) a local run leaves as it goes,
 * for `pipeline run --timings` to say where the time went.
 */
export const MARKS = {
  start: 'pipeline:start',
  command: 'pipeline:command',
  stateMachine: 'pipeline:state-machine',
  modelServerStarting: 'pipeline:model-server-starting',
  modelServerReady: 'pipeline:model-server-ready',
  done: 'pipeline:done',
} as const;
