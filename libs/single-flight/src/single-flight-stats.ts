import { Injectable } from '@nestjs/common';

/** Why a stale value was handed out (the `reason` of `singleflight.stale`). */
export type StaleReason = 'revalidate' | 'error' | 'backoff' | 'soft_timeout';

/** What one method's calls did in this process, since start (or the last `reset()`). */
export interface MethodStats {
  /**
   * Values served from the cache: by the local tier (per caller), or by a flight's read of the
   * shared store (per flight; a fleet-wide flight that found the entry another process loaded
   * while it waited counts here too). A flight counts one hit, one stale value or one miss.
   */
  hits: { local: number; shared: number };
  /** Flights that found nothing usable and ran a load, or joined a refresh's (per flight). */
  misses: number;
  /** Stale values handed out, by reason (per flight). */
  stale: Record<StaleReason, number>;
  /** Flights this process started (@SingleFlight): one per burst of concurrent callers of a key. */
  flights: number;
  /** Callers that joined a flight already in progress instead of starting one. */
  joined: number;
  /** Times the method ran for the cache or a flight (background refreshes included). */
  loads: number;
  /** Loads that failed. */
  loadErrors: number;
  /** Of those loads, the ones that ran in the background (refreshes). */
  refreshes: number;
  /** Total and longest duration of the loads (ms). */
  loadTime: { totalMs: number; maxMs: number };
  /** Fleet-wide flights that found another process loading the key and waited for its entry. */
  leaseWaits: number;
  /** Of those, the ones that loaded themselves after all (the holder died, failed or outlasted the hard timeout). */
  leaseTakeovers: number;
  /** @CacheEvict calls whose invalidation was written, and those queued for retry (store down). */
  invalidations: { written: number; queued: number };
}

/** One cache store (a tier of CACHE_MANAGER), as named in the library's logs. */
export interface StoreStats {
  /** Operations that failed or timed out, by operation (`read`, `write`, `tokens`, ...). */
  failures: Record<string, number>;
  /** Circuit breaker transitions. */
  breaker: { opened: number; closed: number };
}

export interface SingleFlightSnapshot {
  /** By key scope: `Class.method`, or `namespace.method` where the decorators give a namespace. */
  methods: Record<string, MethodStats>;
  /** By store label. */
  stores: Record<string, StoreStats>;
}

const emptyMethod = (): MethodStats => ({
  hits: { local: 0, shared: 0 },
  misses: 0,
  stale: { revalidate: 0, error: 0, backoff: 0, soft_timeout: 0 },
  flights: 0,
  joined: 0,
  loads: 0,
  loadErrors: 0,
  refreshes: 0,
  loadTime: { totalMs: 0, maxMs: 0 },
  leaseWaits: 0,
  leaseTakeovers: 0,
  invalidations: { written: 0, queued: 0 },
});

const emptyStore = (): StoreStats => ({ failures: {}, breaker: { opened: 0, closed: 0 } });

/**
 * Counters of every outcome, per method, kept in process without any metrics SDK: for tests,
 * health pages and the demo. The same outcomes go to OpenTelemetry (flight-telemetry.ts) when
 * the application registers an SDK.
 *
 * ```ts
 * constructor(private readonly stats: SingleFlightStats) {}
 * const { loads, joined } = this.stats.method('IncidentsService.list');
 * ```
 */
@Injectable()
export class SingleFlightStats {
  private readonly methods = new Map<string, MethodStats>();
  private readonly stores = new Map<string, StoreStats>();

  /** A copy of every counter. */
  snapshot(): SingleFlightSnapshot {
    return structuredClone({ methods: Object.fromEntries(this.methods), stores: Object.fromEntries(this.stores) });
  }

  /** A copy of one method's counters (zeros for a method not called yet). */
  method(scope: string): MethodStats {
    return structuredClone(this.methods.get(scope) ?? emptyMethod());
  }

  /** Starts every counter from zero (tests, or a health page's own window). */
  reset(): void {
    // In place: the recorder holds on to these objects.
    for (const stats of this.methods.values()) Object.assign(stats, emptyMethod());
    for (const stats of this.stores.values()) Object.assign(stats, emptyStore());
  }

  /** @internal The live counters of `scope`, for the recorder. */
  methodCounters(scope: string): MethodStats {
    let stats = this.methods.get(scope);
    if (!stats) this.methods.set(scope, (stats = emptyMethod()));
    return stats;
  }

  /** @internal The live counters of a store, for the recorder. */
  storeCounters(label: string): StoreStats {
    let stats = this.stores.get(label);
    if (!stats) this.stores.set(label, (stats = emptyStore()));
    return stats;
  }
}
