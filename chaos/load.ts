// Bounded mixed load: a fixed number of workers, each one request at a time, until a deadline or
// a request cap (whichever comes first), against 127.0.0.1 only. Every request is recorded with
// when it started (what the stale check and the recovery time are measured from).
import { titleFor, type VersionLedger } from './stale-check.js';

export type Op = 'get' | 'list' | 'stats' | 'patch';
export type Outcome = '2xx' | '4xx' | '5xx' | 'net';

export interface Sample {
  start: number;
  ms: number;
  op: Op;
  outcome: Outcome;
  instance: string;
}

export interface LoadTarget {
  name: string;
  baseUrl: string;
}

export interface LoadPlan {
  phase: string;
  targets: LoadTarget[];
  /** Read by GET /incidents/:id, and checked inside list pages. */
  hotIds: string[];
  /** The ids this phase writes: each phase its own slice, so a later phase's successful
   *  invalidation cannot hide an earlier phase's lost one. */
  writeIds: string[];
  workers: number;
  /** performance.now() after which no worker starts a request. */
  until: number;
  maxRequestsPerWorker: number;
  requestTimeoutMs: number;
  ledger: VersionLedger;
  /** Shares of PATCH, stats and list requests; the rest are GET /incidents/:id. */
  mix: { patch: number; stats: number; list: number };
}

/** Filter combinations: newest-first pages, so most hot ids (the newest incidents) appear in them. */
export const LIST_QUERIES = ['limit=50', 'namespace=payments', 'namespace=search&severity=high', 'status=open&limit=30', 'offset=20&limit=20', 'severity=critical&status=open'];

export interface LoadRun {
  /** Grows while the run goes on (for progress lines). */
  samples: Sample[];
  /** A few failures as they looked (status and body, or the error), for the report. */
  failures: string[];
  done: Promise<void>;
}

const MAX_FAILURE_EXAMPLES = 8;
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];

export function runLoad(plan: LoadPlan): LoadRun {
  const run: LoadRun = { samples: [], failures: [], done: Promise.resolve() };
  const hot = new Set(plan.hotIds);
  run.done = Promise.all(Array.from({ length: plan.workers }, () => worker(plan, run, hot))).then(() => undefined);
  return run;
}

async function worker(plan: LoadPlan, run: LoadRun, hot: Set<string>): Promise<void> {
  for (let i = 0; i < plan.maxRequestsPerWorker && performance.now() < plan.until; i++) {
    const target = pick(plan.targets);
    const r = Math.random();
    const { patch, stats, list } = plan.mix;
    if (r < patch && (await tryWrite(plan, run, target))) continue;
    if (r >= patch && r < patch + stats) await read(plan, run, target, 'stats', '/incidents/stats');
    else if (r >= patch + stats && r < patch + stats + list) {
      const body = await read(plan, run, target, 'list', `/incidents?${pick(LIST_QUERIES)}`);
      const items = (body as { items?: { id: string; title: string }[] } | undefined)?.items ?? [];
      for (const item of items) if (hot.has(item.id)) plan.ledger.check('list', item.id, item.title, body!.startedAt, plan.phase, target.name);
    } else {
      const id = pick(plan.hotIds);
      const body = (await read(plan, run, target, 'get', `/incidents/${id}`)) as { title?: string; startedAt: number } | undefined;
      if (body?.title !== undefined) plan.ledger.check('get', id, body.title, body.startedAt, plan.phase, target.name);
    }
  }
}

/** A PATCH of the next version of a free id of this phase; false when every id tried was being written. */
async function tryWrite(plan: LoadPlan, run: LoadRun, target: LoadTarget): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const id = pick(plan.writeIds);
    const version = plan.ledger.beginWrite(id);
    if (version === undefined) continue;
    // Now and then a status change too, so writes are not all the same shape (resolvedAt logic runs).
    const body = { title: titleFor(id, version), ...(version % 4 === 0 ? { status: version % 8 === 0 ? 'open' : 'resolved' } : {}) };
    let outcome: 'acked' | 'rejected' | 'unknown' = 'unknown';
    try {
      const res = await send(plan, run, target, 'patch', `/incidents/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      // A 5xx may come after the database committed: only a 4xx is a sure "not written".
      if (res) outcome = res.status < 300 ? 'acked' : res.status < 500 ? 'rejected' : 'unknown';
    } finally {
      plan.ledger.endWrite(id, version, outcome, performance.now(), plan.phase, target.name);
    }
    return true;
  }
  return false;
}

async function read(plan: LoadPlan, run: LoadRun, target: LoadTarget, op: Op, path: string): Promise<(Record<string, unknown> & { startedAt: number }) | undefined> {
  const res = await send(plan, run, target, op, path, { method: 'GET' });
  return res && res.status < 300 ? { ...(res.body as Record<string, unknown>), startedAt: res.startedAt } : undefined;
}

/** One request, recorded; undefined on a network error or timeout. */
async function send(plan: LoadPlan, run: LoadRun, target: LoadTarget, op: Op, path: string, init: RequestInit): Promise<{ status: number; body: unknown; startedAt: number } | undefined> {
  const start = performance.now();
  const record = (outcome: Outcome, detail?: string) => {
    run.samples.push({ start, ms: performance.now() - start, op, outcome, instance: target.name });
    if (detail && run.failures.length < MAX_FAILURE_EXAMPLES) run.failures.push(`${target.name} ${init.method} ${path}: ${detail}`);
  };
  try {
    const response = await fetch(`${target.baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(plan.requestTimeoutMs) });
    const text = await response.text();
    const status = response.status;
    if (status >= 300) {
      record(status < 500 ? '4xx' : '5xx', `${status} ${text.slice(0, 200)}`);
      return { status, body: undefined, startedAt: start };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    record('2xx');
    return { status, body, startedAt: start };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    record('net', `${e.name}: ${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`);
    return undefined;
  }
}

export interface LatencySummary {
  requests: number;
  ok: number;
  c4xx: number;
  c5xx: number;
  net: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(samples: Sample[]): LatencySummary {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const count = (o: Outcome) => samples.filter((s) => s.outcome === o).length;
  return {
    requests: samples.length,
    ok: count('2xx'),
    c4xx: count('4xx'),
    c5xx: count('5xx'),
    net: count('net'),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

/**
 * How long after `from` latency came back: the start of the first `bucketMs` window after which
 * `hold` consecutive windows all have no failed request and a p95 within `thresholdMs`.
 * Undefined: not within the samples. Windows are by request start, so a slow request counts
 * against the moment it was sent.
 */
export function latencyRecovery(samples: Sample[], from: number, thresholdMs: number, bucketMs = 250, hold = 4): number | undefined {
  const after = samples.filter((s) => s.start >= from);
  if (after.length === 0) return undefined;
  const last = Math.max(...after.map((s) => s.start));
  const buckets: Sample[][] = Array.from({ length: Math.floor((last - from) / bucketMs) + 1 }, () => []);
  for (const s of after) buckets[Math.floor((s.start - from) / bucketMs)].push(s);
  const good = buckets.map((b) => b.length > 0 && b.every((s) => s.outcome === '2xx') && percentile(b.map((s) => s.ms).sort((x, y) => x - y), 95) <= thresholdMs);
  for (let i = 0; i + hold <= good.length; i++) if (good.slice(i, i + hold).every(Boolean)) return i * bucketMs;
  return undefined;
}

/** One GET of every hot id on every instance, in turn: what each instance serves once the load is over. */
export async function sweep(plan: Pick<LoadPlan, 'phase' | 'targets' | 'hotIds' | 'requestTimeoutMs' | 'ledger'>): Promise<LoadRun> {
  const run: LoadRun = { samples: [], failures: [], done: Promise.resolve() };
  const full = { ...plan, writeIds: [], workers: 1, until: Infinity, maxRequestsPerWorker: 0, mix: { patch: 0, stats: 0, list: 0 } };
  for (const target of plan.targets) {
    for (const id of plan.hotIds) {
      const body = (await read(full, run, target, 'get', `/incidents/${id}`)) as { title?: string; startedAt: number } | undefined;
      if (body?.title !== undefined) plan.ledger.check('get', id, body.title, body.startedAt, plan.phase, target.name);
    }
  }
  return run;
}
