import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { LocalSageMaker } from '../../../src/local/sagemaker/index.ts';
import { ResourceRegistry } from '../../../src/local/sagemaker/registry.ts';
import { FakeModelHost } from './container.ts';

describe('ResourceRegistry', () => {
  it('records a resource once, lists it with its creation time, and forgets it', async () => {
    const registry = new ResourceRegistry(await mkdtemp(join(tmpdir(), 'pipeline-registry-')));
    const createdAt = new Date('2026-11-22T01:00:00Z');
    expect(await registry.add('model', 'job-1', createdAt)).toBe(true);
    expect(await registry.add('model', 'job-1')).toBe(false);
    expect(await registry.add('endpoint', 'job-1')).toBe(true);
    expect(registry.names('model')).toEqual(['job-1']);
    expect(await registry.list()).toEqual([
      { kind: 'model', name: 'job-1', createdAt },
      { kind: 'endpoint', name: 'job-1', createdAt: expect.any(Date) },
    ]);
    expect(await registry.remove('model', 'job-1')).toBe(true);
    expect(await registry.remove('model', 'job-1')).toBe(false);
    expect(registry.names('model')).toEqual([]);
  });

  it('refuses a name that is not a SageMaker name, which could name a file elsewhere', async () => {
    const registry = new ResourceRegistry(await mkdtemp(join(tmpdir(), 'pipeline-registry-')));
    for (const name of ['../escape', 'a/b', '', 'x'.repeat(64)]) {
      await expect(registry.add('model', name)).rejects.toMatchObject({
        name: 'SageMaker.AmazonSageMakerException',
      });
    }
  });
});

describe('LocalSageMaker with a registry', () => {
  it('shows the models another instance created, refuses their names, and deletes them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pipeline-registry-'));
    const options = {
      store: new LocalObjectStore(dataDir),
      keyOf: (url: string) => url,
      models: new FakeModelHost(),
    };
    const first = new LocalSageMaker({ ...options, registry: new ResourceRegistry(dataDir) });
    const second = new LocalSageMaker({ ...options, registry: new ResourceRegistry(dataDir) });
    const container = { Image: 'tfs', ModelDataUrl: './models/iris' };
    await first.createModel({ ModelName: 'left-behind', PrimaryContainer: container });

    expect(second.models()).toEqual(['left-behind']);
    await expect(
      second.createModel({ ModelName: 'left-behind', PrimaryContainer: container }),
    ).rejects.toMatchObject({
      name: 'SageMaker.AmazonSageMakerException',
      message: expect.stringMatching(/^Cannot create already existing model/),
    });
    expect(await second.deleteModel({ ModelName: 'left-behind' })).toEqual({});
    expect(first.models()).toEqual([]);
    await expect(second.deleteModel({ ModelName: 'left-behind' })).rejects.toMatchObject({
      name: 'SageMaker.SageMakerException',
    });
    await expect(second.deleteModel({ ModelName: '../escape' })).rejects.toMatchObject({
      name: 'SageMaker.SageMakerException',
    });
  });
});
