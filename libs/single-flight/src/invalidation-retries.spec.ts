import type { Logger } from '@nestjs/common';
import { until } from '../test/support/latch.js';
import { InvalidationRetries } from './invalidation-retries.js';

describe('InvalidationRetries', () => {
  let logs: { level: string; message: string }[];
  const logger = {
    error: (message: string) => void logs.push({ level: 'error', message }),
    log: (message: string) => void logs.push({ level: 'log', message }),
  } as unknown as Logger;
  /** Every write the queue tried, and whether the store takes writes now. */
  let writes: string[][];
  let storeUp: boolean;
  const write = async (tags: readonly string[]) => (writes.push([...tags]), storeUp);
  let retries: InvalidationRetries;

  beforeEach(() => {
    logs = [];
    writes = [];
    storeUp = false;
  });
  afterEach(() => retries.stop());

  it('keeps failed invalidations, coalesced per tag, and retries them in the order they failed until the store takes them', async () => {
    retries = new InvalidationRetries(write, logger);
    retries.add(['b']);
    retries.add(['a', 'b']);
    retries.add(['c']);
    expect(retries.size).toBe(3);
    expect(retries.hasAny(['x', 'a'])).toBe(true);
    expect(retries.hasAny(['x'])).toBe(false);
    await until(() => writes.length >= 2); // failing retries, backing off
    expect(writes.every((tags) => tags.join() === 'b,a,c')).toBe(true);
    storeUp = true;
    await until(() => retries.size === 0);
    expect(writes.at(-1)).toEqual(['b', 'a', 'c']);
    expect(retries.hasAny(['a', 'b', 'c'])).toBe(false);
  });

  it('logs once when the first invalidation is kept and once when the queue is written, however many were queued', async () => {
    retries = new InvalidationRetries(write, logger);
    for (let i = 0; i < 50; i++) retries.add([`t${i % 7}`]);
    await until(() => writes.length >= 2);
    expect(logs).toEqual([{ level: 'error', message: expect.stringMatching(/^Cache invalidation of tag "t0" not written: the store is unavailable\. Kept and retried/) }]);
    storeUp = true;
    await until(() => retries.size === 0);
    expect(logs.slice(1)).toEqual([{ level: 'log', message: expect.stringMatching(/^Queued cache invalidations written, \d+ ms after the first failed$/) }]);
  });

  it('an invalidation queued while a retry is being written stays queued: the write may have reached the store before its change did', async () => {
    let release!: (ok: boolean) => void;
    retries = new InvalidationRetries((tags) => (writes.push([...tags]), new Promise((resolve) => (release = resolve))), logger);
    retries.add(['a']);
    await until(() => writes.length === 1);
    retries.add(['a']); // a newer failed invalidation of the same tag, while the retry is out
    release(true);
    await until(() => writes.length === 2); // written again
    expect(retries.size).toBe(1);
    release(true);
    await until(() => retries.size === 0);
  });

  it('settled() drops what a successful write made after the mark covers, and nothing queued after it', () => {
    retries = new InvalidationRetries(write, logger);
    retries.add(['a', 'b']);
    const mark = retries.mark();
    retries.add(['b']);
    retries.settled(['a', 'b'], mark);
    expect(retries.hasAny(['a'])).toBe(false);
    expect(retries.hasAny(['b'])).toBe(true);
  });

  it('is bounded: past maxTags the oldest is dropped, with one error', () => {
    retries = new InvalidationRetries(write, logger, 3);
    retries.add(['a', 'b', 'c', 'd', 'e']);
    expect(retries.size).toBe(3);
    expect(retries.hasAny(['a'])).toBe(false);
    expect(retries.hasAny(['c', 'd', 'e'])).toBe(true);
    expect(logs.filter((l) => /oldest are dropped/.test(l.message))).toHaveLength(1);
  });

  it('stops with the application, naming what was never written', async () => {
    retries = new InvalidationRetries(write, logger);
    retries.add(['a']);
    retries.stop();
    const tried = writes.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(writes.length).toBe(tried);
    expect(logs.at(-1)!.message).toMatch(/^Stopping with 1 cache invalidation\(s\) never written \(a\)/);
  });
});
