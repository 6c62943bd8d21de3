import { FlightTimeoutError } from './errors.js';
import { FlightRegistry } from './flight-registry.js';
import { latch, settle } from '../test/support/latch.js';

describe('FlightRegistry', () => {
  let registry: FlightRegistry;
  beforeEach(() => (registry = new FlightRegistry()));

  describe.each([1, 10, 100, 1_000, 10_000])('%i concurrent callers of one key', (n) => {
    it('run the loader once and all get its result', async () => {
      const gate = latch<string>();
      let calls = 0;
      const callers = Array.from({ length: n }, () => registry.run('k', () => (calls++, gate.promise)));
      await settle();
      expect(calls).toBe(1);
      expect(registry.waiters('k')).toBe(n);
      expect(registry.size).toBe(1);
      gate.release('value');
      expect(new Set(await Promise.all(callers))).toEqual(new Set(['value']));
      expect(registry.size).toBe(0);
    });

    it('all get the same error, and the next call starts a new flight', async () => {
      const gate = latch<string>();
      let calls = 0;
      const callers = Array.from({ length: n }, () => registry.run('k', () => (calls++, gate.promise)).catch((e: Error) => e));
      await settle();
      const boom = new Error('db down');
      gate.fail(boom);
      const outcomes = await Promise.all(callers);
      expect(outcomes.every((o) => o === boom)).toBe(true);
      expect(calls).toBe(1);
      await expect(registry.run('k', async () => (calls++, 'again'))).resolves.toBe('again');
      expect(calls).toBe(2);
    });
  });

  it('keeps keys apart', async () => {
    const a = latch<string>();
    const b = latch<string>();
    const pa = registry.run('a', () => a.promise);
    const pb = registry.run('b', () => b.promise);
    expect(registry.size).toBe(2);
    b.release('B');
    a.release('A');
    expect(await Promise.all([pa, pb])).toEqual(['A', 'B']);
  });

  it('shares a synchronous throw as the flight error', async () => {
    await expect(registry.run('k', () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(registry.size).toBe(0);
  });

  it("rejects only the caller whose timeout passed; the flight goes on for the others", async () => {
    const gate = latch<string>();
    const patient = registry.run('k', () => gate.promise);
    const hasty = registry.run('k', () => gate.promise, { timeout: 10 });
    await expect(hasty).rejects.toBeInstanceOf(FlightTimeoutError);
    expect(registry.waiters('k')).toBe(1);
    gate.release('late');
    await expect(patient).resolves.toBe('late');
  });

  it("rejects only the caller whose signal aborted, and never aborts the loader's signal for it", async () => {
    const gate = latch<string>();
    let loaderSignal!: AbortSignal;
    const patient = registry.run('k', (signal) => ((loaderSignal = signal), gate.promise));
    const caller = new AbortController();
    const leaving = registry.run('k', () => gate.promise, { signal: caller.signal });
    caller.abort(new Error('client went away'));
    await expect(leaving).rejects.toThrow('client went away');
    expect(loaderSignal.aborted).toBe(false);
    gate.release('ok');
    await expect(patient).resolves.toBe('ok');
  });

  it("aborts the loader's signal once every caller has left, and the next caller starts afresh", async () => {
    const gate = latch<string>();
    let loaderSignal!: AbortSignal;
    const callers = [new AbortController(), new AbortController()];
    const runs = callers.map((c) => registry.run('k', (signal) => ((loaderSignal = signal), gate.promise), { signal: c.signal }).catch(() => 'left'));
    callers[0].abort();
    await settle();
    expect(loaderSignal.aborted).toBe(false);
    callers[1].abort();
    expect(await Promise.all(runs)).toEqual(['left', 'left']);
    expect(loaderSignal.aborted).toBe(true);
    expect(registry.size).toBe(0);
    await expect(registry.run('k', async () => 'fresh')).resolves.toBe('fresh');
  });

  it('always hands the loader a signal, whatever its declared arity', async () => {
    const seen: unknown[] = [];
    await registry.run('k', (...args: unknown[]) => void seen.push(args[0]));
    expect(Object.prototype.toString.call(seen[0])).toBe('[object AbortSignal]');
  });

  it('rejects a caller whose signal is already aborted without starting a flight', async () => {
    let calls = 0;
    await expect(registry.run('k', async () => calls++, { signal: AbortSignal.abort(new Error('no')) })).rejects.toThrow('no');
    expect(calls).toBe(0);
  });

  it('forgets a hung flight at the hard timeout: waiters rejected, loader aborted, key free', async () => {
    let loaderSignal!: AbortSignal;
    const hung = Array.from({ length: 3 }, () => registry.run('k', (signal) => ((loaderSignal = signal), new Promise<string>(() => undefined)), { hardTimeout: 20 }));
    for (const caller of hung) await expect(caller).rejects.toMatchObject({ name: 'FlightTimeoutError', kind: 'flight' });
    expect(loaderSignal.aborted).toBe(true);
    expect(registry.size).toBe(0);
    await expect(registry.run('k', async () => 'next')).resolves.toBe('next');
  });

  it('forget(key) lets later callers start a new flight while earlier ones keep theirs', async () => {
    const first = latch<string>();
    const early = registry.run('k', () => first.promise);
    registry.forget('k');
    const late = registry.run('k', async () => 'new');
    await expect(late).resolves.toBe('new');
    first.release('old');
    await expect(early).resolves.toBe('old');
  });

  it('registers a flight before its loader runs: a loader that calls run() with its own key joins itself (as Go does)', async () => {
    let inner: Promise<string> | undefined;
    let innerLoads = 0;
    const outer = registry.run('k', () => {
      inner = registry.run('k', async () => (innerLoads++, 'second'));
      return 'first';
    });
    expect(registry.waiters('k')).toBe(2);
    await expect(outer).resolves.toBe('first');
    await expect(inner).resolves.toBe('first');
    expect(innerLoads).toBe(0);
  });

  it('says at the hard timeout whether the loader was aborted or left to finish', async () => {
    const hung = () => new Promise<string>(() => undefined);
    await expect(registry.run('a', hung, { hardTimeout: 10 })).rejects.toThrow(/did not settle within 10 ms \(hardTimeout\).*the loader's AbortSignal was aborted/);
    await expect(registry.run('b', hung, { hardTimeout: 10, abortable: false })).rejects.toThrow(/the loader takes no AbortSignal, so it was left to finish/);
    await expect(registry.run('b', hung, { hardTimeout: 10, abortable: false })).rejects.not.toThrow(/aborted/);
  });

  it('makes no AbortSignal for a flight started with abortable: false', async () => {
    const seen: unknown[] = [];
    await registry.run('k', (...args: unknown[]) => (seen.push(...args), 'v'), { abortable: false });
    expect(seen).toEqual([undefined]);
  });
});
