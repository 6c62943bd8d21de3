import { metrics, SpanStatusCode, trace, type Attributes, type Counter, type Histogram, type Span, type Tracer } from '@opentelemetry/api';
import type { StoreEvents } from './guarded-store.js';
import type { MethodStats, SingleFlightStats, StaleReason, StoreStats } from './single-flight-stats.js';

/** The instrumentation scope of the library's meter and tracer. */
export const INSTRUMENTATION_SCOPE = 'nestjs-single-flight';
const VERSION = '0.1.0';

/** Load durations, in seconds (OpenTelemetry's unit for durations): from a cached query to a hard timeout. */
const LOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The library's OpenTelemetry instruments; `method` is the key scope (`Class.method`), never an argument. */
class Instruments {
  readonly hits: Counter;
  readonly misses: Counter;
  readonly stale: Counter;
  readonly flights: Counter;
  readonly joined: Counter;
  readonly loads: Counter;
  readonly loadDuration: Histogram;
  readonly leaseWaits: Counter;
  readonly leaseTakeovers: Counter;
  readonly invalidations: Counter;
  readonly storeFailures: Counter;
  readonly breakerTransitions: Counter;

  constructor() {
    const meter = metrics.getMeter(INSTRUMENTATION_SCOPE, VERSION);
    const counter = (name: string, description: string) => meter.createCounter(name, { description });
    this.hits = counter('singleflight.hits', 'Values served from the cache, by tier: local (per caller) or shared (per flight)');
    this.misses = counter('singleflight.misses', 'Flights that found nothing usable in the cache and ran (or joined) a load');
    this.stale = counter('singleflight.stale', 'Stale values served, by reason: revalidate, error, backoff, soft_timeout');
    this.flights = counter('singleflight.flights', 'Flights started: one per burst of concurrent callers of a key');
    this.joined = counter('singleflight.joined', 'Callers that joined a flight in progress instead of starting one');
    this.loads = counter('singleflight.loads', 'Runs of the decorated method for the cache or a flight, by outcome (ok, error) and kind (foreground, refresh)');
    this.loadDuration = meter.createHistogram('singleflight.load.duration', {
      description: 'Duration of the loads',
      unit: 's',
      advice: { explicitBucketBoundaries: LOAD_BUCKETS },
    });
    this.leaseWaits = counter('singleflight.lease.waits', 'Fleet-wide flights that waited for another process loading the key');
    this.leaseTakeovers = counter('singleflight.lease.takeovers', 'Fleet-wide flights that waited, then loaded themselves (the holder died, failed or timed out)');
    this.invalidations = counter('singleflight.invalidations', 'Evicting calls, by outcome: written, or queued for retry while the store is down');
    this.storeFailures = counter('singleflight.store.failures', 'Cache store operations that failed or timed out, by store and operation');
    this.breakerTransitions = counter('singleflight.breaker.transitions', "A store's circuit breaker opening or closing, by store and state");
  }
}

/**
 * Records every outcome of the flow twice: in SingleFlightStats (always, in process) and through
 * OpenTelemetry's API, which is a no-op until the application registers an SDK (the usual
 * contract for libraries; register it before the Nest application is created, since a meter is
 * taken once). One recorder per method, its attribute sets made once.
 */
export class FlightTelemetry implements StoreEvents {
  private readonly instruments = new Instruments();
  private readonly tracer = trace.getTracer(INSTRUMENTATION_SCOPE, VERSION);
  private readonly methods = new Map<string, MethodTelemetry>();

  constructor(readonly stats: SingleFlightStats) {}

  /** The recorder of one key scope. */
  of(scope: string): MethodTelemetry {
    let method = this.methods.get(scope);
    if (!method) this.methods.set(scope, (method = new MethodTelemetry(scope, this.instruments, this.tracer, this.stats.methodCounters(scope))));
    return method;
  }

  storeFailure(store: string, operation: string): void {
    const counters: StoreStats = this.stats.storeCounters(store);
    counters.failures[operation] = (counters.failures[operation] ?? 0) + 1;
    this.instruments.storeFailures.add(1, { store, operation });
  }

  breakerChanged(store: string, open: boolean): void {
    this.stats.storeCounters(store).breaker[open ? 'opened' : 'closed']++;
    this.instruments.breakerTransitions.add(1, { store, state: open ? 'open' : 'closed' });
  }
}

export type HitTier = 'local' | 'shared';

export class MethodTelemetry {
  private readonly attributes: Attributes;
  private readonly byTier: Record<HitTier, Attributes>;
  private readonly byReason: Record<StaleReason, Attributes>;
  private readonly byLoad: Record<'ok' | 'error', Record<'foreground' | 'refresh', Attributes>>;
  private readonly spanName: string;
  /** Whether the `joined` series exists yet. */
  private joinedSeries = false;

  constructor(
    readonly scope: string,
    private readonly instruments: Instruments,
    private readonly tracer: Tracer,
    private readonly counters: MethodStats,
  ) {
    const method = scope;
    this.attributes = { method };
    this.byTier = { local: { method, tier: 'local' }, shared: { method, tier: 'shared' } };
    this.byReason = {
      revalidate: { method, reason: 'revalidate' },
      error: { method, reason: 'error' },
      backoff: { method, reason: 'backoff' },
      soft_timeout: { method, reason: 'soft_timeout' },
    };
    const loads = (outcome: string) => ({ foreground: { method, outcome, kind: 'foreground' }, refresh: { method, outcome, kind: 'refresh' } });
    this.byLoad = { ok: loads('ok'), error: loads('error') };
    this.spanName = `singleflight ${scope}`;
  }

  hit(tier: HitTier): void {
    this.counters.hits[tier]++;
    this.instruments.hits.add(1, this.byTier[tier]);
  }

  miss(): void {
    this.counters.misses++;
    this.instruments.misses.add(1, this.attributes);
  }

  stale(reason: StaleReason): void {
    this.counters.stale[reason]++;
    this.instruments.stale.add(1, this.byReason[reason]);
  }

  /** A caller started a flight (it leads; its load, if any, has a span of its own). */
  flight(): void {
    this.counters.flights++;
    this.instruments.flights.add(1, this.attributes);
    // From the first flight on, `joined` has a series too (0 until a caller joins), so a ratio of the two never drops the method.
    if (!this.joinedSeries) {
      this.joinedSeries = true;
      this.instruments.joined.add(0, this.attributes);
    }
  }

  /** A caller joined a flight in progress: counted, with a span from joining until the flight settles. */
  joined<T>(outcome: Promise<T>): Promise<T> {
    this.counters.joined++;
    this.instruments.joined.add(1, this.attributes);
    const span = this.tracer.startSpan(this.spanName, { attributes: { 'singleflight.scope': this.scope, 'singleflight.role': 'joined' } });
    return outcome.then(
      (value) => (span.end(), value),
      (error: unknown) => (fail(span, error), Promise.reject(error)),
    );
  }

  /** Runs a load of the method: its duration, outcome and span (active, so the database's spans nest under it). */
  load<T>(run: () => T, refresh = false): Promise<Awaited<T>> {
    const kind = refresh ? 'refresh' : 'foreground';
    const attributes = { 'singleflight.scope': this.scope, 'singleflight.role': 'leader', 'singleflight.refresh': refresh };
    return this.tracer.startActiveSpan(this.spanName, { attributes }, async (span): Promise<Awaited<T>> => {
      const started = performance.now();
      const settle = (outcome: 'ok' | 'error') => {
        const ms = performance.now() - started;
        this.counters.loads++;
        if (refresh) this.counters.refreshes++;
        if (outcome === 'error') this.counters.loadErrors++;
        this.counters.loadTime.totalMs += ms;
        if (ms > this.counters.loadTime.maxMs) this.counters.loadTime.maxMs = ms;
        const attrs = this.byLoad[outcome][kind];
        this.instruments.loads.add(1, attrs);
        this.instruments.loadDuration.record(ms / 1000, attrs);
      };
      try {
        const value = await run();
        settle('ok');
        span.end();
        return value;
      } catch (error) {
        settle('error');
        fail(span, error);
        throw error;
      }
    });
  }

  leaseWait(): void {
    this.counters.leaseWaits++;
    this.instruments.leaseWaits.add(1, this.attributes);
  }

  leaseTakeover(): void {
    this.counters.leaseTakeovers++;
    this.instruments.leaseTakeovers.add(1, this.attributes);
  }

  invalidated(written: boolean): void {
    const outcome = written ? 'written' : 'queued';
    this.counters.invalidations[outcome]++;
    this.instruments.invalidations.add(1, { method: this.scope, outcome });
  }
}

function fail(span: Span, error: unknown): void {
  // The error's type only (semantic convention `error.type`): a message may quote the key, and so the call's arguments.
  const type = error instanceof Error ? error.name : typeof error;
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.end();
}
