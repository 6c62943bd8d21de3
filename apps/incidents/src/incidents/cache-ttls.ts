/**
 * Lists and stats feed dashboards: a value a little past its ttl beats a wait, and beats an error
 * when the database is down. For 30 s after the ttl a read gets the stale value at once while one
 * refresh runs (stale-while-revalidate); for 10 minutes, a load that fails serves it instead of
 * the error (stale-if-error). The ttl itself is the module's (CACHE_TTL_MS, default 30 s).
 * A single incident is read to act on it: it is never served stale.
 */
export const DASHBOARD_FRESHNESS = { staleWhileRevalidate: 30_000, staleIfError: 600_000 } as const;

/** The oldest value a read can get while the database is up: a list or stats read at the end of its stale-while-revalidate window. */
export const oldestServedRead = (ttlMs: number): number => ttlMs + DASHBOARD_FRESHNESS.staleWhileRevalidate;
