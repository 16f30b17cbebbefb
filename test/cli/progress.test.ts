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
