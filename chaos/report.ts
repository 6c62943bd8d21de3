// The results as a markdown table, ready to paste into a README, and the lines under it.
import type { LatencySummary } from './load.js';

export interface PhaseResult {
  name: string;
  /** What was done to the system in this phase. */
  fault: string;
  seconds: number;
  summary: LatencySummary;
  staleGet: number;
  staleList: number;
  /** Distinct ids read stale. */
  staleIds: number;
  /** From the apps' logs: times a queue of failed invalidations started, invalidations lost for good, the longest a queue waited (ms). */
  invalidations: { queued: number; lost: number; longestWaitMs: number };
  /** Seconds during which /health of at least one instance was not "200, cache not degraded". */
  healthNotOk: number;
  /** ms after the fault ended; undefined: no fault ended in this phase; null: not within the phase. */
  recovery: { health?: number | null; cache?: number | null; latency?: number | null };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 1 : 0) : '-');
const recovered = (value: number | null | undefined) => (value === undefined ? '-' : value === null ? 'not in phase' : `${(value / 1000).toFixed(1)} s`);

export function markdownTable(results: PhaseResult[]): string {
  const header = ['phase', 'fault', 'requests', 'req/s', '4xx', '5xx', 'net err', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'stale reads (GET/list)', 'stale ids', 'invalidations queued / lost (longest wait)', 'health not ok', 'recovery: health', 'recovery: cache circuit', 'recovery: latency'];
  const rows = results.map((r) => [
    r.name,
    r.fault,
    String(r.summary.requests),
    r.seconds > 0 ? (r.summary.requests / r.seconds).toFixed(0) : '-',
    String(r.summary.c4xx),
    String(r.summary.c5xx),
    String(r.summary.net),
    ms(r.summary.p50),
    ms(r.summary.p95),
    ms(r.summary.p99),
    ms(r.summary.max),
    `${r.staleGet + r.staleList} (${r.staleGet}/${r.staleList})`,
    String(r.staleIds),
    `${r.invalidations.queued} / ${r.invalidations.lost}${r.invalidations.longestWaitMs > 0 ? ` (${(r.invalidations.longestWaitMs / 1000).toFixed(1)} s)` : ''}`,
    `${r.healthNotOk.toFixed(1)} s`,
    recovered(r.recovery.health),
    recovered(r.recovery.cache),
    recovered(r.recovery.latency),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i < 2 ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

export const TABLE_NOTES = [
  'Recovery is measured from the end of the fault (Redis answering PING again, SIGCONT sent, table lock released):',
  '*health*: until /health of both instances says 200 with the cache not degraded, and stays so;',
  "*cache circuit*: until both instances logged the library's \"circuit closed\" (0 if it never opened);",
  '*latency*: until four consecutive 250 ms windows (by request start) have no failed request and a p95 within twice the baseline p95 (at least 5 ms).',
  '*stale read*: a GET (of the incident, or of a list page holding it) that started after a newer version of the incident was acknowledged.',
  '*invalidations*: from the apps\' logs: how often a queue of failed invalidations began (the library logs one line per queue), how many were lost for good, and the longest a queue waited before it was written.',
  '*health not ok*: time during which /health of at least one instance was not 200 with the cache reachable.',
  'Each instance reaches Redis through a TCP proxy of the runner (the partition phase stalls A\'s).',
].join(' ');
