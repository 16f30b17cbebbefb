import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/local-store.ts';
import { EndpointInvocationError } from '../../../src/core/errors.ts';
import type { EndpointInvoker, EndpointRequest } from '../../../src/core/ports/endpoints.ts';
import { readText, writeText } from '../../../src/core/ports/object-store.ts';
import { encodeTfRecords } from '../../../src/core/records/tfrecord.ts';
import { resolveJob } from '../../../src/core/spec/compile.ts';
import { scoreOnEndpointStep } from '../../../src/core/steps/endpoint.ts';

/**
 * An endpoint whose model answers each line of a request with itself; requests can be held (to see how
 * many are in flight) or refused.
 */
class EchoEndpoint implements EndpointInvoker {
  readonly requests: EndpointRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  refuse: (n: number) => EndpointInvocationError | undefined = () => undefined;
  /** The first `held` requests are answered together once all have come, the last first. */
  held = 0;
  #waiting: (() => void)[] = [];

  async invokeEndpoint(request: EndpointRequest): Promise<Buffer> {
    const n = this.requests.length;
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (n < this.held) {
        await new Promise<void>((resolve) => {
          this.#waiting.unshift(resolve);
          if (this.#waiting.length >= this.held) for (const wake of this.#waiting.splice(0)) wake();
        });
      }
      const refusal = this.refuse(n);
      if (refusal) throw refusal;
      const lines = request.body.toString('utf8').split('\n');
      return Buffer.from(JSON.stringify({ predictions: lines.map((line) => JSON.parse(line) as unknown) }));
    } finally {
      this.inFlight--;
    }
  }
}

let store: LocalObjectStore;
let endpoint: EchoEndpoint;
beforeEach(async () => {
  store = new LocalObjectStore(await mkdtemp(join(tmpdir(), 'pipeline-endpoint-')));
  endpoint = new EchoEndpoint();
});

/** Scores job `j`'s shards on endpoint `tfbp-j`. */
const score = (invoker: EndpointInvoker, spec: Record<string, unknown> = {}) =>
  scoreOnEndpointStep(
    store,
    invoker,
    'j',
    resolveJob({ model: 's3://m/x', endpointMaxRecords: 100, dataProcessing: { inputFilter: '$' }, ...spec }),
    'tfbp-j',
  );

describe('scoreOnEndpointStep', () => {
  it('writes the .out file a transform job would, one response per line, in request order', async () => {
    // Prepare: two shards of one input; SingleRecord, two requests in flight, answered last first.
    await writeText(store, 'work/j/shards/0/0.jsonl', '[1]\n[2]\n[3]\n');
    await writeText(store, 'work/j/shards/0/1.jsonl', '[4]\n');
    endpoint.held = 2;
    const spec = {
      batchStrategy: 'SingleRecord',
      serverlessConfig: { memorySizeInMB: 1024, maxConcurrency: 2 },
    };
    // Act
    const scored = await score(endpoint, spec);
    // Assess
    expect(scored).toEqual({ shards: 2, requests: 4, records: 4 });
    expect(await readText(store, 'work/j/outputs/0/0.jsonl.out')).toBe(
      '{"predictions":[[1]]}\n{"predictions":[[2]]}\n{"predictions":[[3]]}\n',
    );
    expect(await readText(store, 'work/j/outputs/0/1.jsonl.out')).toBe('{"predictions":[[4]]}\n');
    expect(endpoint.maxInFlight).toBe(2);
    expect(endpoint.requests[0]).toMatchObject({
      endpoint: 'tfbp-j',
      contentType: 'application/jsonlines',
      accept: 'application/jsonlines',
      timeoutMs: 60_000,
    });
  });

  it('packs MultiRecord requests under the serverless payload limit, whatever maxPayloadInMB says', async () => {
    const line = `[${'1,'.repeat(750_000)}1]`;
    await writeText(store, 'work/j/shards/0/0.jsonl', `${line}\n${line}\n${line}\n${line}\n`);
    const scored = await score(endpoint, { maxPayloadInMB: 20 });
    expect(scored).toEqual({ shards: 1, requests: 2, records: 4 });
    expect(endpoint.requests.map((request) => request.body.length)).toEqual([
      2 * line.length + 1,
      2 * line.length + 1,
    ]);
    expect(Math.max(...endpoint.requests.map((request) => request.body.length))).toBeLessThanOrEqual(
      4 * 1024 * 1024,
    );
  });

  it('frames TFRecord shards again, one request per record with SingleRecord', async () => {
    const records = encodeTfRecords([Buffer.from('a'), Buffer.from('bb')]);
    const sink = await store.write('work/j/shards/0/0.tfrecord');
    await sink.write(records);
    await sink.close();
    const requests: Buffer[] = [];
    const invoker: EndpointInvoker = {
      invokeEndpoint: async (request) => {
        requests.push(request.body);
        return Buffer.from('{"predictions":[1]}');
      },
    };
    const scored = await score(invoker, {
      batchStrategy: 'SingleRecord',
      splitType: 'TFRecord',
      contentType: 'application/x-tfrecord',
    });
    expect(scored.requests).toBe(2);
    expect(Buffer.concat(requests)).toEqual(records);
  });

  it('sends a request again while the endpoint says it may pass, as ModelClientConfig allows', async () => {
    await writeText(store, 'work/j/shards/0/0.jsonl', '[1]\n');
    endpoint.refuse = (n) =>
      n < 2 ? new EndpointInvocationError('ThrottlingException: busy', true) : undefined;
    await score(endpoint);
    expect(endpoint.requests).toHaveLength(3);
    expect(await readText(store, 'work/j/outputs/0/0.jsonl.out')).toBe('{"predictions":[[1]]}\n');
  });

  it('fails naming the shard and records, leaving no output, when the model refuses or retries run out', async () => {
    await writeText(store, 'work/j/shards/0/0.jsonl', '[1]\n[2]\n');
    endpoint.refuse = () => new EndpointInvocationError('ModelError: Received client error (400)', false);
    await expect(score(endpoint)).rejects.toMatchObject({
      name: 'EndpointInvocationError',
      message:
        'work/j/shards/0/0.jsonl: request for records 1-2 to endpoint tfbp-j failed: ModelError: Received client error (400)',
    });
    expect(endpoint.requests).toHaveLength(1);
    expect(await store.head('work/j/outputs/0/0.jsonl.out')).toBeUndefined();

    endpoint.refuse = () => new EndpointInvocationError('ServiceUnavailable: later', true);
    await expect(score(endpoint, { modelClientConfig: { invocationsMaxRetries: 1 } })).rejects.toThrow(
      'failed: ServiceUnavailable: later (after 2 attempts)',
    );
  });
});
