/** How long each read stays cached (ms). The seed script names the longest. */
export const CACHE_TTLS = { list: 30_000, stats: 30_000, incident: 60_000 } as const;

/** The longest a running app can serve a read that a seed has made stale (in-memory cache). */
export const LONGEST_CACHE_TTL = Math.max(...Object.values(CACHE_TTLS));
