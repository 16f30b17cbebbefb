import { describe, expect, it } from 'vitest';
import type { SageMakerResource, SageMakerResources } from '../../src/core/ports/sagemaker-resources.ts';
import { sageMakerName } from '../../src/core/steps/names.ts';
import { sweepOrphans } from '../../src/core/sweep.ts';

class InMemoryResources implements SageMakerResources {
  readonly deleted: string[] = [];
  readonly resources: SageMakerResource[];
  constructor(resources: SageMakerResource[]) {
    this.resources = resources;
  }
  async list(prefix: string) {
    return this.resources.filter((r) => r.name.startsWith(prefix));
  }
  async delete(resource: SageMakerResource) {
    this.deleted.push(`${resource.kind} ${resource.name}`);
  }
}

const now = new Date('2026-11-22T12:00:00Z');
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000);

describe('sweepOrphans', () => {
  const resources = () =>
    new InMemoryResources([
      { kind: 'model', name: 'tfbp-dev-inbox-a-1', createdAt: hoursAgo(30) },
      { kind: 'model', name: sageMakerName(`tfbp-dev-${'x'.repeat(90)}`), createdAt: hoursAgo(30) },
      { kind: 'model', name: 'tfbp-dev-inbox-b-2', createdAt: hoursAgo(1) },
      { kind: 'endpoint-config', name: 'tfbp-dev-small-3', createdAt: hoursAgo(10) },
      { kind: 'endpoint', name: 'tfbp-dev-small-3', createdAt: hoursAgo(10) },
      { kind: 'model', name: 'someone-elses-model', createdAt: hoursAgo(100) },
    ]);
  const running = { running: async () => ['x'.repeat(90)] };

  it('deletes what no running execution owns and is past the grace period, endpoints first', async () => {
    const sageMaker = resources();
    const result = await sweepOrphans(sageMaker, running, {
      namePrefix: 'tfbp-dev',
      olderThanHours: 6,
      dryRun: false,
      now,
    });
    expect(sageMaker.deleted).toEqual([
      'endpoint tfbp-dev-small-3',
      'endpoint-config tfbp-dev-small-3',
      'model tfbp-dev-inbox-a-1',
    ]);
    expect(result.kept.map((k) => [k.resource.name.slice(0, 18), k.reason])).toEqual([
      [sageMakerName(`tfbp-dev-${'x'.repeat(90)}`).slice(0, 18), 'its execution is still running'],
      ['tfbp-dev-inbox-b-2', 'younger than 6 hours'],
    ]);
  });

  it('only lists in a dry run', async () => {
    const sageMaker = resources();
    const result = await sweepOrphans(sageMaker, running, {
      namePrefix: 'tfbp-dev',
      olderThanHours: 6,
      dryRun: true,
      now,
    });
    expect(sageMaker.deleted).toEqual([]);
    expect(result.wouldDelete.map((r) => r.name)).toEqual([
      'tfbp-dev-small-3',
      'tfbp-dev-small-3',
      'tfbp-dev-inbox-a-1',
    ]);
  });
});
