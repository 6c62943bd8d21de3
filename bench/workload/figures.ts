// The decision's success metrics, computed from one mode's raw material: the driver's tallies, the
// instances' /metrics before and after the measured window, the query log's duplicates.
import { READ_CLASSES, WRITE_CLASSES, type DriverResult } from './driver.js';
import type { CpuUse } from './cpu.js';
import type { DuplicateReport } from './duplicates.js';
import type { Summary } from './latency.js';
import { delta, histogramQuantile, sum, sumBy, type Scrape } from './metrics.js';
import type { StaleTally } from './stale-checks.js';

export const TARGETS = {
  dedupRate: 1, // 100% of concurrent identical misses coalesced
  hitRate: 0.7,
  p95Ms: 200,
  poolWaits: 0,
  staleReads: 0,
} as const;

/** The app's get(id), shown apart: before 7b2b1bc, the one read that was not a fleet-wide flight. */
const GET_METHOD = 'IncidentsService.get';

export interface MethodCounters {
  hitsLocal: number;
  hitsShared: number;
  stale: number;
  misses: number;
  flights: number;
  joined: number;
  leaseWaits: number;
  leaseTakeovers: number;
  loads: number;
  refreshes: number;
}

export interface Figures {
  label: string;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  statements: number;
  statementsPerRequest: number;
  duplicates: DuplicateReport;
  coalesced: number;
  /** coalesced / (duplicates + coalesced); undefined when neither happened. */
  dedupRate?: number;
  /**
   * The same, lists and stats only: until 7b2b1bc get(id) was `@SingleFlight({ distributed: false })`
   * (a flight per instance), so two instances missing one id at once both loaded it; an app from
   * before then (WORKLOAD_APP_ROOT) shows the difference here.
   */
  dedupRateWithoutGet?: number;
  duplicatesWithoutGet: number;
  coalescedWithoutGet: number;
  cache: MethodCounters;
  byMethod: Map<string, MethodCounters>;
  /** (hits + stale) / (hits + stale + misses); undefined without cache reads (decorators off). */
  hitRate?: number;
  latency: { all: Summary; reads: Summary; writes: Summary; byClass: Map<string, Summary> };
  pool: { waits: number; checkouts: number; waitP99Ms?: number; waitP99BucketMs?: number; pendingMax: number };
  stale: StaleTally;
  staleWriter: number;
  staleOther: number;
  failures: Map<string, number>;
  failed: number;
  cpu?: CpuUse;
  updates: DriverResult['updates'];
  creates: DriverResult['creates'];
}

const counters = (deltas: Scrape[], filter?: Record<string, string>): MethodCounters => ({
  hitsLocal: sum(deltas, 'singleflight_hits_total', { ...filter, tier: 'local' }),
  hitsShared: sum(deltas, 'singleflight_hits_total', { ...filter, tier: 'shared' }),
  stale: sum(deltas, 'singleflight_stale_total', filter),
  misses: sum(deltas, 'singleflight_misses_total', filter),
  flights: sum(deltas, 'singleflight_flights_total', filter),
  joined: sum(deltas, 'singleflight_joined_total', filter),
  leaseWaits: sum(deltas, 'singleflight_lease_waits_total', filter),
  leaseTakeovers: sum(deltas, 'singleflight_lease_takeovers_total', filter),
  loads: sum(deltas, 'singleflight_loads_total', filter),
  refreshes: sum(deltas, 'singleflight_loads_total', { ...filter, kind: 'refresh' }),
});

export const hitRateOf = (c: MethodCounters): number | undefined => {
  const served = c.hitsLocal + c.hitsShared + c.stale;
  return served + c.misses > 0 ? served / (served + c.misses) : undefined;
};

export interface ModeRaw {
  label: string;
  driver: DriverResult;
  /** One scrape per instance, at the window's start and end. */
  before: Scrape[];
  after: Scrape[];
  duplicates: DuplicateReport;
  /** The most checkouts seen waiting for a connection, sampled about every second on each instance. */
  pendingMax: number;
  cpu?: CpuUse;
}

export function figures({ label, driver, before, after, duplicates, pendingMax, cpu }: ModeRaw): Figures {
  const deltas = after.map((a, i) => delta(before[i], a));
  const seconds = driver.elapsedMs / 1000;
  const statements = sum(deltas, 'db_client_statements_total');
  const cache = counters(deltas);
  const methods = new Set([...sumBy(deltas, 'singleflight_misses_total', 'method').keys(), ...sumBy(deltas, 'singleflight_hits_total', 'method').keys(), ...sumBy(deltas, 'singleflight_stale_total', 'method').keys()]);
  const byMethod = new Map([...methods].sort().map((m) => [m, counters(deltas, { method: m })]));
  // A lease wait that ended in a takeover loaded after all: it was not coalesced.
  const coalesced = cache.joined + cache.leaseWaits - cache.leaseTakeovers;
  const get = byMethod.get(GET_METHOD);
  const duplicatesWithoutGet = duplicates.duplicates - (duplicates.byKind.get('get')?.duplicates ?? 0);
  const coalescedWithoutGet = coalesced - (get ? get.joined + get.leaseWaits - get.leaseTakeovers : 0);
  const wait = histogramQuantile(deltas, 'db_client_connection_wait_time', 0.99);
  const { latencies } = driver;
  const staleOf = (role: 'writer' | 'other') => Object.values(driver.stale.stale[role]).reduce((a, b) => a + b, 0);
  return {
    label,
    requests: driver.requests,
    seconds,
    requestsPerSecond: driver.requests / seconds,
    statements,
    statementsPerRequest: statements / driver.requests,
    duplicates,
    coalesced,
    dedupRate: duplicates.duplicates + coalesced > 0 ? coalesced / (duplicates.duplicates + coalesced) : undefined,
    dedupRateWithoutGet: duplicatesWithoutGet + coalescedWithoutGet > 0 ? coalescedWithoutGet / (duplicatesWithoutGet + coalescedWithoutGet) : undefined,
    duplicatesWithoutGet,
    coalescedWithoutGet,
    cache,
    byMethod,
    hitRate: hitRateOf(cache),
    latency: {
      all: latencies.summary(),
      reads: latencies.summary(READ_CLASSES),
      writes: latencies.summary(WRITE_CLASSES),
      byClass: new Map([...READ_CLASSES, ...WRITE_CLASSES].map((c) => [c, latencies.summary([c])])),
    },
    pool: {
      waits: sum(deltas, 'db_client_connection_waits_total'),
      checkouts: sum(deltas, 'db_client_connection_wait_time_count'),
      waitP99Ms: wait && wait.value * 1000,
      waitP99BucketMs: wait && wait.bucketUpperBound * 1000,
      pendingMax,
    },
    stale: driver.stale,
    staleWriter: staleOf('writer'),
    staleOther: staleOf('other'),
    failures: driver.failures,
    failed: [...driver.failures.values()].reduce((a, b) => a + b, 0),
    cpu,
    updates: driver.updates,
    creates: driver.creates,
  };
}
