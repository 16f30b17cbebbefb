import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { GROUP_INPUTS } from '../../src/core/steps/inputs.ts';
import type { Plan, PlanConfig } from '../../src/core/steps/plan.ts';
import { createPlanHandler } from '../../src/handlers/plan.ts';
import { loadDefinition } from '../../src/local/asl.ts';
import { lambdaContext } from '../../src/local/runner.ts';
import { MemoryStore } from '../support/memory-store.ts';

// A job over 100,000 inputs through the state machine file: the real Plan over a bucket that only lists
// them, every other task a stand-in that answers as the real one would for a group. What is measured is
// what Step Functions limits: each state's input and output (256 KB) and the execution's history
// (25,000 events), counted as Step Functions records them.

type Json = Parameters<StateMachine['run']>[0];
const STATE_DATA_LIMIT = 256 * 1024;
const HISTORY_LIMIT = 25_000;

const config: PlanConfig = {
  objectUrl: (key) => `s3://bucket/${key}`,
  servingImage: () => 'tfs-image',
  trainingImage: 'training-image',
  packagingSource: async () => [],
  localModels: false,
};

interface Definition {
  States: Record<string, { Type: string; ItemProcessor?: Definition }>;
}

/** Each state's type, those inside Maps included. */
function stateTypes(definition: Definition, types = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(definition.States)) {
    types.set(name, state.Type);
    if (state.ItemProcessor) stateTypes(state.ItemProcessor, types);
  }
  return types;
}

/**
 * The events Step Functions would record for one the interpreter reports: a state entered or exited is
 * one; a Task also records TaskScheduled, TaskStarted and TaskSucceeded; a Map, MapStateStarted and
 * MapStateSucceeded; each Map iteration, its start and its end.
 */
function historyEvents(
  event: { type: string; state?: { name: string } },
  types: Map<string, string>,
): number {
  switch (event.type) {
    case 'StateExited': {
      const type = types.get(event.state?.name ?? '');
      return 1 + (type === 'Task' ? 3 : type === 'Map' ? 2 : 0);
    }
    default:
      return 1;
  }
}

async function runJob(inputs: number, job: Record<string, unknown>) {
  const store = new MemoryStore();
  store.addListedFolder('inbox/batch/', inputs, 2048, (k) => `part-${String(k).padStart(6, '0')}.jsonl`);
  const plan = createPlanHandler(() => ({ store, config }));
  const definition = (await loadDefinition()) as unknown as Definition;
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const perGroup = (input: Json) => (input as { group: { group: number; count: number } }).group;
  const execution = machine.run({ inputs: ['inbox/batch/'], job } as Json, {
    context: { Execution: { Name: 'many' } } as never,
    overrides: {
      taskResourceLocalHandlers: {
        Plan: async (input) => (await plan(input, lambdaContext('plan'))) as unknown as Json,
        Shard: async (input) => {
          const { group, count } = perGroup(input);
          return { group, shards: 2, records: { in: count, skipped: 0, errors: 0, sent: count } };
        },
        Route: async () => ({ empty: false, endpoint: false, image: 'tfs-image', reason: 'many records' }),
        CreateModel: async () => ({}),
        Transform: async () => ({ TransformJobStatus: 'Completed' }),
        Merge: async (input) => {
          const { group, count } = perGroup(input);
          return { group, records: { in: count, out: count, errors: 0 } };
        },
        Finish: async () => ({ status: 'Succeeded', records: { in: inputs, out: inputs, errors: 0 } }),
        DeleteModel: async () => ({}),
        Cleanup: async () => ({ stopped: [], deleted: 0 }),
      },
    },
  });
  const types = stateTypes(definition);
  let events = 2; // ExecutionStarted, ExecutionSucceeded
  let largest = { bytes: 0, state: '' };
  const entered = new Map<string, number>();
  for await (const event of execution.eventLogs) {
    if (
      event.type !== 'StateEntered' &&
      event.type !== 'StateExited' &&
      !event.type.startsWith('MapIteration')
    )
      continue;
    events += historyEvents(event as never, types);
    if (event.type === 'StateEntered' || event.type === 'StateExited') {
      const data = event.type === 'StateEntered' ? event.state.input : event.state.output;
      const bytes = Buffer.byteLength(JSON.stringify(data) ?? '');
      if (bytes > largest.bytes) largest = { bytes, state: `${event.type} ${event.state.name}` };
      if (event.type === 'StateEntered')
        entered.set(event.state.name, (entered.get(event.state.name) ?? 0) + 1);
    }
  }
  const output = (await execution.result) as unknown as { plan: Plan };
  return { output, events, largest, entered, store };
}

describe('a job over 100,000 inputs', () => {
  it('stays within the state payload and history limits of Step Functions', async () => {
    // Act
    const { output, events, largest, entered, store } = await runJob(100_000, { model: 's3://m/x' });
    // Assess
    const { plan } = output;
    expect(plan.inputs).toEqual({ count: 100_000, bytes: 100_000 * 2048 });
    expect(plan.groups).toHaveLength(100_000 / GROUP_INPUTS);
    expect(plan.groups[1]).toEqual({ group: 1, first: 1000, count: 1000, bytes: 1000 * 2048 });
    expect(entered.get('Shard')).toBe(100);
    expect(entered.get('Merge')).toBe(100);
    expect(largest.bytes).toBeLessThan(STATE_DATA_LIMIT / 4);
    expect(events).toBeLessThan(HISTORY_LIMIT / 10);
    // The listing itself is in the bucket, one object per group.
    expect(store.keys('work/many/inputs/')).toHaveLength(100);
  });

  it('reads a whole-object job through a manifest, and skips the shards', async () => {
    // Act
    const { output, events, largest, entered, store } = await runJob(100_000, {
      model: 's3://m/x',
      contentType: 'application/x-image',
      splitType: 'None',
      batchStrategy: 'SingleRecord',
      maxPayloadInMB: 1,
    });
    // Assess
    expect(output.plan.transform).toMatchObject({
      dataType: 'ManifestFile',
      inputUri: 's3://bucket/work/many/manifest.json',
      splitType: 'None',
      contentType: 'application/x-image',
      objects: { prefix: 'inbox/batch/', sent: 100_000 },
    });
    expect(entered.get('Shard')).toBeUndefined();
    expect(entered.get('Merge')).toBe(100);
    expect(largest.bytes).toBeLessThan(STATE_DATA_LIMIT / 4);
    expect(events).toBeLessThan(HISTORY_LIMIT / 10);
    const manifest = JSON.parse(store.objects.get('work/many/manifest.json')?.toString('utf8') ?? '');
    expect(manifest).toHaveLength(100_001);
    expect(manifest.slice(0, 3)).toEqual([
      { prefix: 's3://bucket/inbox/batch/' },
      'part-000000.jsonl',
      'part-000001.jsonl',
    ]);
  });
});
