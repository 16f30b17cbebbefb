import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEventKey, executionName, startForUploads } from '../../../src/core/triggers/inbox.ts';
import { NamedExecutions } from '../../support/executions.ts';

const upload = { bucket: 'data', key: 'inbox/a b+c.jsonl', size: 10, etag: '"abc"' };

describe('startForUploads', () => {
  it('starts one execution for an upload delivered three times, one after another and at once', async () => {
    const executions = new NamedExecutions();
    const first = await startForUploads([upload, upload], executions);
    const again = await Promise.all([
      startForUploads([upload], executions),
      startForUploads([upload], executions),
    ]);
    expect(executions.byName.size).toBe(1);
    expect(first.started).toHaveLength(1);
    expect(first.repeated).toHaveLength(1);
    expect(again.flatMap((r) => r.repeated)).toHaveLength(2);
    expect([...executions.byName.values()][0]).toEqual({
      inputs: ['inbox/a b+c.jsonl'],
      source: { bucket: 'data', key: 'inbox/a b+c.jsonl', etag: '"abc"' },
      settleSeconds: 15,
    });
  });

  it('starts a new execution for a new version of the same key', async () => {
    const executions = new NamedExecutions();
    await startForUploads([upload, { ...upload, etag: '"def"' }, { ...upload, versionId: 'v2' }], executions);
    expect(executions.byName.size).toBe(3);
  });

  it('starts nothing for sidecars, folder markers, empty objects and keys outside the inbox', async () => {
    const executions = new NamedExecutions();
    const result = await startForUploads(
      [
        { ...upload, key: 'inbox/a.jsonl.job.json' },
        { ...upload, key: 'inbox/day/', size: 0 },
        { ...upload, key: 'inbox/empty.jsonl', size: 0 },
        { ...upload, key: 'results/x.out' },
      ],
      executions,
    );
    expect(executions.byName.size).toBe(0);
    expect(result.skipped.map((s) => s.reason)).toEqual([
      'a job spec sidecar, read when its input is planned',
      'a folder marker',
      'empty',
      'not in the inbox',
    ]);
  });
});

describe('inbox batches', () => {
  const part = (key: string) => ({ bucket: 'data', key, size: 100, etag: `"${key.length}"` });
  // Spark's committer leaves an empty marker: its ETag is the MD5 of nothing.
  const marker = {
    bucket: 'data',
    key: 'inbox/day-1/_SUCCESS',
    size: 0,
    etag: '"d41d8cd98f00b204e9800998ecf8427e"',
  };

  it('starts nothing for the files of a batch folder, at any depth, saying what they wait for', async () => {
    const executions = new NamedExecutions();
    const result = await startForUploads(
      [
        part('inbox/day-1/part-00000-x.snappy.parquet'),
        part('inbox/day-1/.part-00000-x.snappy.parquet.crc'),
        part('inbox/day-1/country=fr/part-00001-x.snappy.parquet'),
        part('inbox/day-1/a.jsonl.job.json'),
      ],
      executions,
    );
    expect(executions.byName.size).toBe(0);
    expect(result.skipped.map((skip) => skip.reason)).toEqual(
      Array(4).fill('part of batch inbox/day-1/, waiting for its _SUCCESS marker'),
    );
  });

  it('starts one job over the whole folder when its _SUCCESS marker arrives, and nothing more when the event repeats', async () => {
    const executions = new NamedExecutions();
    const first = await startForUploads([part('inbox/day-1/part-0.jsonl'), marker], executions);
    const again = await Promise.all([
      startForUploads([marker], executions),
      startForUploads([marker], executions),
    ]);

    expect(first.started).toEqual([
      { key: 'inbox/day-1/_SUCCESS', executionArn: expect.stringMatching(/:inbox-day-1-[0-9a-f]{20}$/) },
    ]);
    expect(again.flatMap((result) => result.started)).toEqual([]);
    expect(again.flatMap((result) => result.repeated)).toHaveLength(2);
    expect([...executions.byName.values()]).toEqual([
      {
        inputs: ['inbox/day-1/'],
        source: { bucket: 'data', key: 'inbox/day-1/_SUCCESS', etag: marker.etag },
        settleSeconds: 15,
      },
    ]);
  });

  it('starts a new job for a new version of the marker, and one per batch', async () => {
    const executions = new NamedExecutions();
    await startForUploads(
      [marker, { ...marker, versionId: 'v2' }, { ...marker, key: 'inbox/day-2/_SUCCESS' }],
      executions,
    );
    expect([...executions.byName.values()].map((input) => input.inputs)).toEqual([
      ['inbox/day-1/'],
      ['inbox/day-1/'],
      ['inbox/day-2/'],
    ]);
  });

  it('in a bucket without versions, tells a new upload of the same empty marker by its event sequencer', async () => {
    const executions = new NamedExecutions();
    const monday = { ...marker, sequencer: '0055AED6DCD90281E5' };
    const tuesday = { ...marker, sequencer: '0055AED6DCD90281F7' };
    const result = await startForUploads([monday, monday, tuesday], executions);
    expect(result.started).toHaveLength(2);
    expect(result.repeated).toHaveLength(1);
  });

  it("starts nothing for a _SUCCESS inside a batch or directly in the inbox: only the batch folder's own marker counts", async () => {
    const executions = new NamedExecutions();
    const result = await startForUploads(
      [
        { ...marker, key: 'inbox/day-1/country=fr/_SUCCESS' },
        { ...marker, key: 'inbox/_SUCCESS', size: 5 },
      ],
      executions,
    );
    expect(executions.byName.size).toBe(0);
    expect(result.skipped.map((skip) => skip.reason)).toEqual([
      'a _SUCCESS marker inside batch inbox/day-1/: only inbox/day-1/_SUCCESS starts it',
      'a _SUCCESS marker outside a batch folder: only inbox/<batch>/_SUCCESS starts a batch',
    ]);
  });
});

describe('event keys and execution names', () => {
  it('decodes keys as S3 encodes them in events: + for a space, %XX for the rest', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '+', '%', 'é', '/', '😀', '=') }), (key) => {
        const encoded = encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
        expect(decodeEventKey(encoded)).toBe(key);
      }),
    );
    expect(decodeEventKey('inbox/caf%C3%A9+r%C3%A9sultats.jsonl')).toBe('inbox/café résultats.jsonl');
  });

  it('names executions within Step Functions rules, the same for the same version', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string(), (key, etag) => {
        const name = executionName({ bucket: 'b', key: `inbox/${key}`, size: 1, etag });
        expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
        expect(executionName({ bucket: 'b', key: `inbox/${key}`, size: 1, etag })).toBe(name);
      }),
    );
    expect(executionName({ bucket: 'b', key: 'inbox/day 1.jsonl', size: 1, etag: 'e' })).toMatch(
      /^inbox-day-1-jsonl-[0-9a-f]{20}$/,
    );
    expect(executionName({ bucket: 'b', key: 'inbox/day 1/_SUCCESS', size: 0, etag: 'e' })).toMatch(
      /^inbox-day-1-[0-9a-f]{20}$/,
    );
  });
});
