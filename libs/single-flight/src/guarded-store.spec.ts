import type { Logger } from '@nestjs/common';
import { installFakeClock } from '../test/support/fake-clock.js';
import { latch, type Latch } from '../test/support/latch.js';
import { GuardedStore, type StoreLike } from './guarded-store.js';

/** A store whose reads answer, fail or hang per call, counting the calls that reached it. */
class ScriptedStore implements StoreLike {
  reads = 0;
  writes = 0;
  fail = false;
  /** Reads of these keys never answer. */
  hang = new Set<string>();
  hold: Latch | undefined;
  async getMany(keys: string[]): Promise<unknown[]> {
    this.reads++;
    if (this.fail) throw new Error('ECONNREFUSED');
    if (keys.some((k) => this.hang.has(k))) return new Promise(() => undefined);
    await this.hold?.promise;
    return keys.map((k) => `value of ${k}`);
  }
  async set(): Promise<boolean> {
    this.writes++;
    if (this.fail) throw new Error('ECONNREFUSED');
    return true;
  }
}

describe('GuardedStore', () => {
  let clock: ReturnType<typeof installFakeClock>;
  let logs: { level: 'warn' | 'log' | 'error'; message: string }[];
  let store: ScriptedStore;
  const logger = {
    warn: (message: string) => void logs.push({ level: 'warn', message }),
    log: (message: string) => void logs.push({ level: 'log', message }),
    error: (message: string) => void logs.push({ level: 'error', message }),
  } as unknown as Logger;

  /** The breaker reads Date.now, installed before the store is made. */
  const guarded = (failureThreshold = 1, timeout = 1_000) =>
    new GuardedStore(store, 'redis', { timeout, circuitBreaker: { failureThreshold, resetTimeout: 1_000 } }, logger);
  const write = (g: GuardedStore, force = false) => g.write('write', () => store.set(), force);

  beforeEach(() => {
    clock = installFakeClock();
    logs = [];
    store = new ScriptedStore();
  });
  afterEach(() => {
    store.hold?.release();
    clock.restore();
  });

  it('each operation has its own timeout: a read that hangs fails alone, a concurrent read answers', async () => {
    const g = guarded(5, 20);
    store.hang.add('slow');
    await expect(Promise.all([g.getMany(['slow']), g.getMany(['fast'])])).resolves.toEqual([undefined, ['value of fast']]);
    expect(g.breaker!.failures).toBe(1);
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/Cache read failed on store redis.*took longer than 20 ms/)]);
  });

  it('a rejected read has failed: undefined, counted', async () => {
    const g = guarded(5);
    store.fail = true;
    await expect(g.getMany(['a'])).resolves.toBeUndefined();
    expect(g.breaker!.failures).toBe(1);
  });

  it('a write the store answers with `false` (Keyv\'s failed write), or a list holding false, has failed and counts', async () => {
    const g = guarded(5);
    await expect(g.write('write', async () => false)).resolves.toBe(false);
    await expect(g.write('write', async () => [true, false])).resolves.toBe(false);
    expect(g.breaker!.failures).toBe(2);
    expect(logs.filter((l) => /did not take the write/.test(l.message))).toHaveLength(1); // one outage, one line
    await expect(g.write('write', async () => true)).resolves.toBe(true);
    await expect(g.write('write', async () => undefined)).resolves.toBe(true);
    await expect(g.write('write', async () => [true, true])).resolves.toBe(true);
    expect(g.breaker!.failures).toBe(2);
  });

  it('while the circuit is open, reads and writes are skipped without touching the store', async () => {
    const g = guarded(1);
    store.fail = true;
    await g.getMany(['a']);
    expect(g.breaker!.isOpen).toBe(true);
    store.fail = false;
    const [reads, writes] = [store.reads, store.writes];
    await expect(g.getMany(['a'])).resolves.toBeUndefined();
    await expect(write(g)).resolves.toBe(false);
    expect([store.reads, store.writes]).toEqual([reads, writes]);
    expect(g.breaker!.failures).toBe(1); // a skipped operation is not a failure
  });

  it('a forced write is tried even while the circuit is open', async () => {
    const g = guarded(1);
    store.fail = true;
    await g.getMany(['a']);
    store.fail = false;
    await expect(write(g, true)).resolves.toBe(true);
    expect(store.writes).toBe(1);
  });

  describe('14. forced writes and the half-open probe (circuit open, resetTimeout elapsed)', () => {
    let g: GuardedStore;
    beforeEach(async () => {
      g = guarded(1);
      store.fail = true;
      await g.getMany(['a']);
      expect(g.breaker!.isOpen).toBe(true);
      clock.advance(1_000);
    });

    it('a forced write that succeeds does not take the probe nor close the circuit: the next normal operation is the probe', async () => {
      store.fail = false;
      await expect(write(g, true)).resolves.toBe(true);
      expect(g.breaker!.isOpen).toBe(true);
      const reads = store.reads;
      await expect(g.getMany(['b'])).resolves.toEqual(['value of b']); // let through: the probe
      expect(store.reads).toBe(reads + 1);
      expect(g.breaker!.isOpen).toBe(false);
    });

    it('a forced write that succeeds leaves exactly one probe: a second normal operation is skipped while the probe is out', async () => {
      store.fail = false;
      await write(g, true);
      store.hold = latch();
      const probe = g.getMany(['b']);
      await expect(g.getMany(['c'])).resolves.toBeUndefined(); // skipped
      expect(store.reads).toBe(2); // the read that opened the circuit, and the probe
      store.hold.release();
      await expect(probe).resolves.toEqual(['value of b']);
      expect(g.breaker!.isOpen).toBe(false);
    });

    it('a forced write that fails neither counts, nor reopens the circuit, nor takes the probe', async () => {
      await expect(write(g, true)).resolves.toBe(false);
      expect(g.breaker!.failures).toBe(1);
      expect(g.breaker!.isOpen).toBe(true);
      store.fail = false;
      await expect(g.getMany(['b'])).resolves.toEqual(['value of b']); // still the probe's turn
      expect(g.breaker!.isOpen).toBe(false);
    });
  });

  it('logs an outage once: the failure that opens the circuit and the opening; nothing for skipped operations, failing forced writes or failing probes; once when it closes', async () => {
    const g = guarded(1);
    store.fail = true;
    await g.getMany(['a']);
    expect(logs).toEqual([
      { level: 'warn', message: expect.stringMatching(/^Cache read failed on store redis, going on without it: ECONNREFUSED/) },
      { level: 'warn', message: expect.stringMatching(/^Cache store redis failing \(ECONNREFUSED\): circuit open/) },
    ]);
    logs = [];
    for (let i = 0; i < 10; i++) await g.getMany(['a']); // skipped
    for (let i = 0; i < 3; i++) await write(g, true); // tried, failing
    clock.advance(1_000);
    await g.getMany(['a']); // a failing probe
    clock.advance(1_000);
    await write(g); // another failing probe
    expect(logs).toEqual([]);

    store.fail = false;
    clock.advance(1_000);
    await g.getMany(['a']); // the probe that succeeds
    expect(logs).toEqual([{ level: 'log', message: expect.stringMatching(/^Cache store redis answering again: circuit closed/) }]);

    logs = [];
    store.fail = true;
    await g.getMany(['a']); // the next outage is logged again
    expect(logs.map((l) => l.level)).toEqual(['warn', 'warn']);
  });

  it('without a circuit breaker, every operation is tried; an outage is logged when it begins and when it ends', async () => {
    const g = new GuardedStore(store, 'redis', { timeout: 1_000, circuitBreaker: false }, logger);
    store.fail = true;
    for (let i = 0; i < 3; i++) await expect(g.getMany(['a'])).resolves.toBeUndefined();
    for (let i = 0; i < 3; i++) await expect(write(g)).resolves.toBe(false);
    expect(store.reads).toBe(3);
    expect(store.writes).toBe(3);
    expect(logs).toEqual([{ level: 'warn', message: expect.stringMatching(/^Cache read failed on store redis, going on without it: ECONNREFUSED/) }]);
    store.fail = false;
    await g.getMany(['a']);
    await g.getMany(['a']);
    expect(logs.slice(1)).toEqual([{ level: 'log', message: 'Cache store redis answering again, after 6 failed operations' }]);
    expect(g.breaker).toBeUndefined();
  });

  describe('a store that answers is healthy, whatever it answers', () => {
    /** Keyv's getMany rejects with a SyntaxError when one stored value is not its JSON. */
    const junkAt = (junk: string) => (keys: string[]) =>
      keys.includes(junk) ? Promise.reject(new SyntaxError(`Unexpected token 'o', "{"v":not json}" is not valid JSON`)) : Promise.resolve(keys.map((k) => `value of ${k}`));

    it('junk under one key is a miss for that key only; the other keys are read one by one; no failure counted, no log', async () => {
      const g = guarded(1);
      const calls: string[][] = [];
      const read = junkAt('entry');
      store.getMany = async (keys: string[]) => (calls.push(keys), read(keys));
      await expect(g.getMany(['entry', 'token:a', 'token:b'])).resolves.toEqual([undefined, 'value of token:a', 'value of token:b']);
      await expect(g.getMany(['entry'])).resolves.toEqual([undefined]);
      expect(calls).toEqual([['entry', 'token:a', 'token:b'], ['entry'], ['token:a'], ['token:b'], ['entry']]);
      expect(g.breaker!.failures).toBe(0);
      expect(g.breaker!.isOpen).toBe(false);
      expect(logs).toEqual([]);
    });

    it('a store that fails while the keys are read one by one has failed', async () => {
      const g = guarded(5);
      store.getMany = async (keys: string[]) => {
        if (keys.length > 1) throw new SyntaxError('junk');
        throw new Error('ECONNRESET');
      };
      await expect(g.getMany(['entry', 'token'])).resolves.toBeUndefined();
      expect(g.breaker!.failures).toBe(1);
    });
  });
});
