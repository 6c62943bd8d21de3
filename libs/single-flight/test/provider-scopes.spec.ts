import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Scope } from '@nestjs/common';
import { ContextIdFactory } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { Cached, SingleFlight } from '@app/single-flight';
import { latch, settle } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

// Request-scoped and transient providers: each application uses its own executor.

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @Cached()
  async find(id: number) {
    return { id };
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class PerConsumer {
  @Cached()
  async find(id: number) {
    return { id };
  }
}

@Injectable()
class Consumer {
  constructor(readonly items: PerConsumer) {}
}

describe('two applications in one process with request-scoped and transient providers', () => {
  it('write each application’s entries to its own cache, under its own prefix', async () => {
    const [one, two] = [
      await createTestApp([PerRequest, PerConsumer, Consumer], { options: { keyPrefix: 'one:' } }),
      await createTestApp([PerRequest, PerConsumer, Consumer], { options: { keyPrefix: 'two:' } }),
    ];
    for (const [app, prefix] of [[one, 'one:'], [two, 'two:']] as const) {
      await (await app.resolve(PerRequest, ContextIdFactory.create())).find(1);
      await app.get(Consumer).items.find(2);
      const cache = app.get<Cache>(CACHE_MANAGER);
      expect(await cache.get(`${prefix}PerRequest.find:[1]`)).toBeDefined();
      expect(await cache.get(`${prefix}PerConsumer.find:[2]`)).toBeDefined();
    }
    expect(await one.get<Cache>(CACHE_MANAGER).get('two:PerRequest.find:[1]')).toBeUndefined();
    await one.close();
    // The other application's request-scoped instances still reach its executor after one closes.
    const cache = two.get<Cache>(CACHE_MANAGER);
    await (await two.resolve(PerRequest, ContextIdFactory.create())).find(3);
    expect(await cache.get('two:PerRequest.find:[3]')).toBeDefined();
    await two.close();
  });
});

class Report {
  loads = 0;
  constructor(readonly gate: Promise<void>) {}
  @Cached()
  @SingleFlight()
  async build(id: number) {
    this.loads++;
    await this.gate;
    return { id };
  }
}

describe('request-scoped providers made by a factory', () => {
  it('are decorated: their calls are coalesced and cached', async () => {
    const gate = latch();
    const made: Report[] = [];
    const app = await createTestApp([
      { provide: 'REPORT', scope: Scope.REQUEST, useFactory: () => (made.push(new Report(gate.promise)), made.at(-1)) },
    ]);
    const [a, b] = await Promise.all([app.resolve<Report>('REPORT', ContextIdFactory.create()), app.resolve<Report>('REPORT', ContextIdFactory.create())]);
    expect(a).not.toBe(b);
    const calls = [a.build(1), b.build(1)];
    await settle();
    gate.release();
    await Promise.all(calls);
    await (await app.resolve<Report>('REPORT', ContextIdFactory.create())).build(1);
    expect(made.reduce((sum, report) => sum + report.loads, 0)).toBe(1);
    await app.close();
  });
});

describe('transient providers made by a factory', () => {
  it('are decorated, both the instances made at start and those made later', async () => {
    @Injectable()
    class Holder {
      constructor(@Inject('REPORT') readonly report: Report) {}
    }
    const made: Report[] = [];
    const app = await createTestApp([
      { provide: 'REPORT', scope: Scope.TRANSIENT, useFactory: () => (made.push(new Report(Promise.resolve())), made.at(-1)) },
      Holder,
    ]);
    const report = app.get(Holder).report; // made at start, for the singleton that injects it
    await report.build(1);
    await report.build(1);
    expect(report.loads).toBe(1);
    await app.close();
  });
});
