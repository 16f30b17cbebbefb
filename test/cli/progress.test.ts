import { describe, expect, it } from 'vitest';
import { formatDuration, Progress } from '../../src/cli/progress.ts';
import type { EventLog } from '../../src/local/runner.ts';

function entered(name: string): EventLog {
  return { type: 'StateEntered', timestamp: 0, state: { name, type: 'Task', input: null } };
}

function shardDone(sent: number): EventLog {
  return {
    type: 'StateExited',
    timestamp: 0,
    index: 0,
    state: { name: 'Shard', type: 'Task', input: null, output: { records: { sent } } },
  };
}

function exited(name: string, output: unknown, index?: number): EventLog {
  return {
    type: 'StateExited',
    timestamp: 0,
    ...(index !== undefined && { index }),
    state: { name, type: 'Task', input: null, output },
  } as EventLog;
}

describe('Progress', () => {
  it('names the step, then during the transform the records scored, the rate and the time left', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new Progress({
      write: (text) => lines.push(text),
      interactive: false,
      now: () => now,
      every: 1000,
    });
    progress.onEvent(entered('Plan'));
    progress.onEvent(shardDone(600));
    progress.onEvent(shardDone(400));
    progress.onEvent(entered('Transform'));
    now = 2000;
    progress.onRecords(250);
    now = 2500;
    progress.onRecords(10); // within a second of the last line: not printed
    expect(lines).toEqual([
      'Plan\n',
      'Transform: 1,000 records to score\n',
      'Transform: 250 of 1,000 records (25%), 125 records/s, 6 s left\n',
    ]);
    expect(progress.line()).toBe('Transform: 260 of 1,000 records (26%), 104 records/s, 7 s left');
  });

  it('on a job of many inputs, counts the groups sharded and the inputs merged', () => {
    const lines: string[] = [];
    const progress = new Progress({ write: (text) => lines.push(text), interactive: false, now: () => 0 });
    const groups = [
      { group: 0, first: 0, count: 1000 },
      { group: 1, first: 1000, count: 1000 },
      { group: 2, first: 2000, count: 500 },
    ];
    progress.onEvent(exited('Plan', { plan: { inputs: { count: 2500 }, groups, transform: {} } }));
    progress.onEvent(entered('ShardInputs'));
    progress.onEvent(exited('Shard', { group: 1, records: { sent: 3000 } }, 1));
    expect(progress.line()).toBe('Shard: 1 of 3 groups of inputs (2,500 inputs)');
    progress.onEvent(entered('MergeOutputs'));
    progress.onEvent(exited('Merge', { group: 2, records: { in: 1500, out: 1500, errors: 0 } }, 2));
    progress.onEvent(exited('Merge', { group: 0, records: { in: 3000, out: 3000, errors: 0 } }, 0));
    expect(progress.line()).toBe('Merge: 1,500 of 2,500 inputs');
  });

  it('on a whole-object job, counts objects, known from the plan', () => {
    let now = 0;
    const progress = new Progress({ write: () => undefined, interactive: false, now: () => now });
    const plan = {
      inputs: { count: 400 },
      groups: [{ group: 0, count: 400 }],
      transform: { objects: { sent: 398 } },
    };
    progress.onEvent(exited('Plan', { plan }));
    progress.onEvent(entered('Transform'));
    now = 10_000;
    progress.onRecords(199);
    expect(progress.line()).toBe('Transform: 199 of 398 objects (50%), 20 objects/s, 10 s left');
  });

  it('rewrites one line on a terminal and ends it when done', () => {
    const written: string[] = [];
    const progress = new Progress({ write: (text) => written.push(text), interactive: true, now: () => 0 });
    progress.onEvent(entered('Plan'));
    progress.finish();
    expect(written).toEqual(['\r\x1b[2KPlan', '\n']);
  });

  it('says durations the way people read them', () => {
    expect([formatDuration(42), formatDuration(125), formatDuration(7380)]).toEqual([
      '42 s',
      '2 min 5 s',
      '2 h 3 min',
    ]);
  });
});
