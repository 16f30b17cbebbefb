import validator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { loadDefinition } from '../../src/local/asl.ts';

interface State {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  ItemProcessor?: { ProcessorConfig?: { Mode?: string }; States: Record<string, State> };
  QueryLanguage?: string;
  ItemsPath?: string;
  ItemSelector?: Record<string, string>;
  Parameters?: { TransformInput?: { DataSource?: { S3DataSource?: Record<string, string> } } };
}

describe('statemachine/pipeline.asl.json', () => {
  it('is valid Amazon States Language', async () => {
    const result = validator(await loadDefinition(), { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('gives every .sync task an explicit timeout, and uses JSONPath and inline maps only', async () => {
    const definition = (await loadDefinition()) as { States: Record<string, State>; QueryLanguage?: string };
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Resource?.endsWith('.sync')) expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
      if (state.Type === 'Map') expect(state.ItemProcessor?.ProcessorConfig?.Mode, name).toBe('INLINE');
      expect(state.QueryLanguage, name).toBeUndefined();
    }
  });

  it('sends every failure after Plan to the cleanup, keeping the data the cleanup needs', async () => {
    const { States } = (await loadDefinition()) as { States: Record<string, State> };
    const work = Object.keys(States).filter(
      (name) =>
        States[name]?.Type === 'Task' &&
        !['Plan', 'DeleteEndpoint', 'DeleteEndpointConfig', 'DeleteModel', 'Cleanup'].includes(name),
    );
    expect(work).toEqual([
      'PackageModel',
      'CacheModel',
      'Route',
      'CreateModel',
      'Transform',
      'CreateEndpointConfig',
      'CreateEndpoint',
      'DescribeEndpoint',
      'ScoreOnEndpoint',
      'Finish',
    ]);
    for (const name of [...work.filter((name) => name !== 'Transform'), 'ShardInputs', 'MergeOutputs']) {
      expect(States[name]?.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ReleaseEndpoint' },
      ]);
    }
    // A transform job that fails ends a job of shards; a whole-object job merges what was answered.
    expect(States.Transform?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.scoring.transformFailure', Next: 'TransformFailed' },
    ]);
    expect(States.TransformFailed).toMatchObject({
      Choices: [
        { Variable: '$.plan.transform.dataType', StringEquals: 'ManifestFile', Next: 'MergeOutputs' },
      ],
      Default: 'TransformFailure',
    });
    expect(States.TransformFailure).toMatchObject({ InputPath: '$.scoring.transformFailure' });
    for (const name of ['EndpointFailed', 'EndpointTimedOut', 'TransformFailure']) {
      expect(States[name], name).toMatchObject({ ResultPath: '$.failure', Next: 'ReleaseEndpoint' });
    }
    expect(States.DeleteEndpoint?.Catch?.[0]?.Next).toBe('DeleteEndpointConfig');
    expect(States.DeleteEndpointConfig?.Catch?.[0]?.Next).toBe('DeleteModel');
    expect(States.DeleteModel?.Catch?.[0]?.Next).toBe('Cleanup');
    expect(States.Cleanup?.Catch?.[0]?.Next).toBe('Outcome');
  });

  it('shards and merges once per group of inputs, and reads whole objects through the manifest', async () => {
    const { States } = (await loadDefinition()) as { States: Record<string, State> };
    for (const name of ['ShardInputs', 'MergeOutputs']) {
      expect(States[name], name).toMatchObject({
        ItemsPath: '$.plan.groups',
        ItemSelector: { 'group.$': '$$.Map.Item.Value' },
      });
    }
    expect(States.MergeOutputs?.ItemSelector).toMatchObject({ 'scoring.$': '$.scoring' });
    expect(States.NeedsShards).toMatchObject({
      Choices: [{ Variable: '$.plan.transform.dataType', StringEquals: 'ManifestFile', Next: 'Route' }],
      Default: 'ShardInputs',
    });
    expect(States.Transform?.Parameters?.TransformInput?.DataSource?.S3DataSource).toEqual({
      'S3DataType.$': '$.plan.transform.dataType',
      'S3Uri.$': '$.plan.transform.inputUri',
    });
  });
});
