import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { OrderedRequests } from '../../src/core/ordered-requests.ts';

describe('OrderedRequests', () => {
  it('hands answers on in request order, with at most `limit` requests out at once', async () => {
    const delivered: number[] = [];
    let out = 0;
    let most = 0;
    const requests = new OrderedRequests<number>(3, async (answer) => {
      delivered.push(answer);
    });
    const request = async (n: number) => {
      out++;
      most = Math.max(most, out);
      await sleep((7 * n) % 11);
      out--;
      return n;
    };
    for (let n = 0; n < 20; n++) await requests.add(request(n));
    await requests.finish();
    expect(delivered).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(most).toBeLessThanOrEqual(3);
  });

  it('surfaces a failure in its turn, after the answers before it', async () => {
    const delivered: string[] = [];
    const requests = new OrderedRequests<string>(4, async (answer) => {
      delivered.push(answer);
    });
    await requests.add(sleep(20).then(() => 'a'));
    await requests.add(Promise.reject(new Error('b failed')));
    await requests.add(Promise.resolve('c'));
    await expect(requests.finish()).rejects.toThrow('b failed');
    expect(delivered).toEqual(['a']);
    await requests.settle();
  });
});
