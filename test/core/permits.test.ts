import { describe, expect, it } from 'vitest';
import { Permits } from '../../src/core/permits.ts';

describe('Permits', () => {
  it('lets `count` holders in at once and the others in, first come first served, as permits come back', async () => {
    // Prepare
    const permits = new Permits(2);
    const signal = new AbortController().signal;
    const entered: string[] = [];
    const enter = (name: string) => permits.take(signal).then(() => entered.push(name));
    // Act
    await Promise.all([enter('a'), enter('b')]);
    const waiting = [enter('c'), enter('d')];
    await Promise.resolve();
    const whileFull = [...entered];
    permits.give();
    await waiting[0];
    const afterOne = [...entered];
    permits.give();
    await waiting[1];
    // Assess
    expect(whileFull).toEqual(['a', 'b']);
    expect(afterOne).toEqual(['a', 'b', 'c']);
    expect(entered).toEqual(['a', 'b', 'c', 'd']);
  });

  it('drops a waiter whose signal is aborted, which then gets no permit', async () => {
    const permits = new Permits(1);
    const never = new AbortController().signal;
    await permits.take(never);
    const impatient = new AbortController();
    const cancelled = permits.take(impatient.signal);
    const patient = permits.take(never);
    impatient.abort(new Error('called off'));
    await expect(cancelled).rejects.toThrow('called off');
    permits.give();
    await patient;
    await expect(permits.take(impatient.signal)).rejects.toThrow('called off');
  });
});
