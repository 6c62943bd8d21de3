import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Keyv } from 'keyv';
import { randomUUID } from 'node:crypto';
import { CacheEvict, Cached, INSTRUMENTATION_SCOPE, SingleFlight, SingleFlightStats, type MethodStats } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { captureWarnings } from './support/captured-logs.js';
import { installFakeClock } from './support/fake-clock.js';
import { FakeKeyvStore } from './support/fake-keyv-store.js';
import { latch, settle, until, type Latch } from './support/latch.js';
import { dropNamespace, REDIS_URL, redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

/**
 * Issue 10: every outcome is counted per key scope, in SingleFlightStats (no SDK needed) and
 * through OpenTelemetry once the application registers an SDK (here: a metrics reader and an
 * in-memory span exporter, registered before the applications are created, as an application
 * does). Known sequences, exact counts.
 */

captureWarnings();

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const reader = new TestReader();
const spans = new InMemorySpanExporter();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
afterAll(() => {
  metrics.disable();
  trace.disable();
});

/** The library's data points of one instrument, as the SDK collected them. */
async function points(name: string): Promise<DataPoint<number | Histogram>[]> {
  const { resourceMetrics }: { resourceMetrics: ResourceMetrics } = await reader.collect();
  const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === INSTRUMENTATION_SCOPE);
  return (scope?.metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<number | Histogram>[];
}

/** The sum of an instrument's points whose attributes include `match`. */
async function total(name: string, match: Record<string, string>): Promise<number> {
  const matching = (await points(name)).filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return matching.reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : p.value.count), 0);
}

let gate: Latch | undefined;
let failure: Error | undefined;
let loads = 0;

async function load(who: string) {
  loads++;
  await gate?.promise;
  if (failure) throw failure;
  return { who, at: new Date(0), n: loads };
}

@Injectable()
class Profiles {
  @Cached({ ttl: 60_000, tags: ['profiles'], local: false })
  @SingleFlight()
  async profile(email: string) {
    return load(email);
  }

  @Cached({ ttl: 60_000, local: true, tags: ['profiles'] })
  @SingleFlight()
  async hot(email: string) {
    return load(email);
  }

  @Cached({ ttl: 1_000, staleWhileRevalidate: 60_000, local: false })
  @SingleFlight()
  async revalidated(id: number) {
    return load(String(id));
  }

  @Cached({ ttl: 1_000, staleIfError: 60_000, refreshBackoff: 5_000, local: false })
  @SingleFlight()
  async resilient(id: number) {
    return load(String(id));
  }

  @Cached({ ttl: 1_000, staleIfError: 60_000, softTimeout: 10, local: false })
  @SingleFlight()
  async patient(id: number) {
    return load(String(id));
  }

  @CacheEvict({ tags: ['profiles'] })
  async rename(email: string) {
    return email;
  }
}

describe('telemetry: SingleFlightStats and OpenTelemetry, after known sequences', () => {
  const namespace = `sf-telemetry-${randomUUID()}`;
  let app: TestingModule;
  let stats: SingleFlightStats;
  const method = (name: string): MethodStats => stats.method(`Profiles.${name}`);

  beforeAll(async () => {
    app = await createTestApp([Profiles], { stores: [redisKeyv(namespace)], options: { keyPrefix: `sft-${namespace.slice(-8)}:`, local: { max: 100, ttl: 60_000 }, redis: REDIS_URL } });
    await until(() => app.get(CachedExecutor).fleet!.bus.connected);
    stats = app.get(SingleFlightStats);
  });
  afterAll(async () => {
    await app.close();
    await dropNamespace(namespace);
  });
  beforeEach(() => {
    gate = undefined;
    failure = undefined;
    loads = 0;
    spans.reset();
  });

  it('1,000 concurrent callers of a cold key: 1 flight, 1 miss, 1 load, 999 joined; spans name the scope and role, never the arguments', async () => {
    const email = 'alice@example.com';
    gate = latch();
    const profiles = app.get(Profiles);
    const calls = Array.from({ length: 1_000 }, () => profiles.profile(email));
    await until(() => loads === 1);
    await settle();
    gate.release();
    const values = await Promise.all(calls);
    expect(values.every((v) => v.at instanceof Date && v.who === email)).toBe(true);

    expect(method('profile')).toMatchObject({ flights: 1, joined: 999, misses: 1, loads: 1, loadErrors: 0, hits: { local: 0, shared: 0 } });
    const scope = { method: 'Profiles.profile' };
    expect(await total('singleflight.flights', scope)).toBe(1);
    expect(await total('singleflight.joined', scope)).toBe(999);
    expect(await total('singleflight.misses', scope)).toBe(1);
    expect(await total('singleflight.loads', { ...scope, outcome: 'ok', kind: 'foreground' })).toBe(1);
    expect(await total('singleflight.load.duration', scope)).toBe(1);

    const finished: ReadableSpan[] = spans.getFinishedSpans();
    const roles = finished.map((s) => s.attributes['singleflight.role']);
    expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
    expect(roles.filter((r) => r === 'joined')).toHaveLength(999);
    expect(finished.every((s) => s.attributes['singleflight.scope'] === 'Profiles.profile')).toBe(true);
    // Personal data stays out: no span carries the argument, in its name, attributes or events.
    expect(JSON.stringify(finished.map((s) => [s.name, s.attributes, s.events, s.status]))).not.toContain('alice');

    // The next caller hits the shared store: one hit, no load.
    await profiles.profile(email);
    expect(method('profile')).toMatchObject({ flights: 2, hits: { shared: 1 }, loads: 1 });
    expect(await total('singleflight.hits', { ...scope, tier: 'shared' })).toBe(1);
  });

  it('a local tier hit is counted per caller, apart from shared hits', async () => {
    const profiles = app.get(Profiles);
    await profiles.hot('bob@example.com'); // miss, load, kept locally
    for (let i = 0; i < 5; i++) await profiles.hot('bob@example.com');
    expect(method('hot')).toMatchObject({ misses: 1, loads: 1, hits: { local: 5, shared: 0 } });
    expect(await total('singleflight.hits', { method: 'Profiles.hot', tier: 'local' })).toBe(5);
  });

  it('a failing load: counted as a load error, its span marked with the error type only', async () => {
    failure = new Error('connection refused for carol@example.com');
    await expect(app.get(Profiles).profile('carol@example.com')).rejects.toThrow('connection refused');
    expect(method('profile')).toMatchObject({ loadErrors: 1 });
    expect(await total('singleflight.loads', { method: 'Profiles.profile', outcome: 'error' })).toBe(1);
    const [span] = spans.getFinishedSpans();
    expect(span.status).toEqual({ code: 2, message: 'Error' });
    expect(span.attributes['error.type']).toBe('Error');
    expect(JSON.stringify([span.attributes, span.events, span.status])).not.toContain('carol');
  });

  it('an eviction that the store takes counts as written', async () => {
    await app.get(Profiles).rename('dave@example.com');
    expect(method('rename').invalidations).toEqual({ written: 1, queued: 0 });
    expect(await total('singleflight.invalidations', { method: 'Profiles.rename', outcome: 'written' })).toBe(1);
  });

  describe('stale values, by reason (the clock moved by hand)', () => {
    let clock: ReturnType<typeof installFakeClock>;
    beforeEach(() => (clock = installFakeClock()));
    afterEach(() => clock.restore());

    it('revalidate: within staleWhileRevalidate; the refresh is a load of kind "refresh"', async () => {
      const profiles = app.get(Profiles);
      await profiles.revalidated(1);
      clock.advance(1_001);
      await profiles.revalidated(1);
      await until(() => method('revalidated').loads === 2);
      expect(method('revalidated')).toMatchObject({ misses: 1, stale: { revalidate: 1 }, loads: 2, refreshes: 1 });
      expect(await total('singleflight.stale', { method: 'Profiles.revalidated', reason: 'revalidate' })).toBe(1);
      expect(await total('singleflight.loads', { method: 'Profiles.revalidated', kind: 'refresh' })).toBe(1);
    });

    it('error, then backoff: within staleIfError with a failing load', async () => {
      const profiles = app.get(Profiles);
      await profiles.resilient(1);
      clock.advance(1_001);
      failure = new Error('database down');
      await profiles.resilient(1); // the load fails: stale (error)
      await profiles.resilient(1); // in backoff: stale without a load
      // One outcome per flight: the first a miss (it loaded), then stale by error, then stale in backoff.
      expect(method('resilient')).toMatchObject({ flights: 3, misses: 1, loads: 2, loadErrors: 1, stale: { error: 1, backoff: 1 } });
      expect(await total('singleflight.stale', { method: 'Profiles.resilient', reason: 'backoff' })).toBe(1);
    });

    it('soft_timeout: a load slower than softTimeout', async () => {
      const profiles = app.get(Profiles);
      await profiles.patient(1);
      clock.advance(1_001);
      gate = latch();
      await profiles.patient(1); // answered stale after 10 ms, the load goes on
      expect(method('patient').stale).toMatchObject({ soft_timeout: 1, error: 0 });
      gate.release();
      await until(() => method('patient').loads === 2);
    });
  });
});

describe('telemetry: a failing store', () => {
  it('counts failed operations by store and operation, breaker transitions, and invalidations queued for retry', async () => {
    const store = new FakeKeyvStore();
    const app = await createTestApp([Profiles], {
      stores: [new Keyv({ store, namespace: 'fake' })],
      options: { storeTimeout: 1_000, circuitBreaker: { failureThreshold: 2, resetTimeout: 20 }, local: { max: 100, ttl: 1_000 } },
    });
    const stats = app.get(SingleFlightStats);
    try {
      store.mode = 'throw';
      const profiles = app.get(Profiles);
      await profiles.profile('erin@example.com');
      await profiles.profile('frank@example.com');
      await profiles.rename('erin@example.com');
      const { stores, methods } = stats.snapshot();
      expect(stores['"fake"'].failures.read).toBe(2);
      expect(stores['"fake"'].breaker).toEqual({ opened: 1, closed: 0 });
      expect(methods['Profiles.rename'].invalidations).toEqual({ written: 0, queued: 1 });
      expect(await total('singleflight.store.failures', { store: '"fake"', operation: 'read' })).toBe(2);
      expect(await total('singleflight.breaker.transitions', { store: '"fake"', state: 'open' })).toBe(1);

      store.mode = 'ok';
      // The breaker lets a probe through after its reset timeout; a success closes it.
      await until(() => {
        void profiles.profile('grace@example.com');
        return stats.snapshot().stores['"fake"'].breaker.closed === 1;
      });
      expect(await total('singleflight.breaker.transitions', { store: '"fake"', state: 'closed' })).toBe(1);

      stats.reset();
      expect(stats.snapshot().stores['"fake"'].breaker).toEqual({ opened: 0, closed: 0 });
      expect(stats.method('Profiles.profile').loads).toBe(0);
    } finally {
      await app.close();
    }
  });
});
