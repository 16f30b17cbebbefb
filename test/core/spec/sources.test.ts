import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { writeText } from '../../../src/core/ports/object-store.ts';
import {
  asJobSource,
  mergeJobSources,
  parseJobSource,
  readJobSource,
} from '../../../src/core/spec/sources.ts';

describe('job spec sources', () => {
  it('names the source that is not JSON', () => {
    expect(() => parseJobSource('{"model": ', 'config/default-job.json')).toThrow(
      expect.objectContaining({
        name: 'JobSpecError',
        field: 'config/default-job.json',
        message: expect.stringMatching(/^config\/default-job\.json: is not valid JSON: /),
      }),
    );
  });

  it('names the source that is JSON but not an object', () => {
    expect(() => parseJobSource('["model"]', 'job.json')).toThrow(
      'job.json: a job spec must be a JSON object',
    );
    expect(() => asJobSource('m', 'job')).toThrow('job: a job spec must be a JSON object');
  });

  it('reads a stored source, or nothing when there is none, named by the origin given', async () => {
    const store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-sources-')));
    expect(await readJobSource(store, 'config/default-job.json')).toBeUndefined();
    await writeText(store, 'config/default-job.json', '{"model": "m"}');
    expect(await readJobSource(store, 'config/default-job.json')).toEqual({ model: 'm' });
    await writeText(store, 'config/default-job.json', '{');
    await expect(
      readJobSource(store, 'config/default-job.json', '/data/config/default-job.json'),
    ).rejects.toThrow(/^\/data\/config\/default-job\.json: is not valid JSON/);
  });

  it('merges later over earlier, nested objects member by member, skipping absent sources', () => {
    expect(
      mergeJobSources({ model: 'a', dataProcessing: { joinSource: 'Input' } }, undefined, {
        model: 'b',
        dataProcessing: { inputFilter: '$.x' },
        environment: { A: '1' },
      }),
    ).toEqual({
      model: 'b',
      dataProcessing: { joinSource: 'Input', inputFilter: '$.x' },
      environment: { A: '1' },
    });
  });
});
