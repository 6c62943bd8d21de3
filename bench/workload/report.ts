// The printed report: markdown tables (so a run pastes into docs/benchmarks.md), a column per mode,
// each target beside its figures with PASS or FAIL.
import { COUNTED_KINDS } from './duplicates.js';
import { hitRateOf, TARGETS, type Figures } from './figures.js';
import type { Summary } from './latency.js';
import { CHECK_READS, type CheckKind, type Role } from './stale-checks.js';

export function markdownTable(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i < 2 ? 'l' : 'r'));
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map(line)].join('\n');
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
const ms = (n: number) => (Number.isNaN(n) ? '—' : n >= 100 ? int(n) : n >= 10 ? n.toFixed(0) : n.toFixed(1));
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const triple = (s: Summary) => (s.count ? `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}` : '—');

/** One verdict per target and mode. */
export function verdicts(f: Figures): Record<string, boolean | undefined> {
  return {
    dedup: f.dedupRate === undefined ? undefined : f.duplicates.duplicates === 0,
    hitRate: f.hitRate !== undefined && f.hitRate >= TARGETS.hitRate,
    p95: f.latency.all.p95 <= TARGETS.p95Ms,
    pool: f.pool.waits <= TARGETS.poolWaits,
    staleWriter: f.staleWriter <= TARGETS.staleReads,
    staleOther: f.staleOther <= TARGETS.staleReads,
  };
}

function cpuPerRequest(f: Figures): string {
  if (!f.cpu) return '— (no /proc)';
  const { seconds: s } = f.cpu;
  const per = (x: number) => ((x * 1000) / f.requests).toFixed(2);
  return `${per(s.instances)} / ${per(s.postgres)} / ${per(s.redis)} / ${per(s.driver)} / ${per(s.other)}`;
}

const verdict = (v: boolean | undefined) => (v === undefined ? 'n/a' : pass(v));

export function mainTable(modes: Figures[]): string {
  const row = (metric: string, target: string, cell: (f: Figures) => string) => [metric, target, ...modes.map(cell)];
  const checks = (f: Figures, role: Role) => Object.values(f.stale.checks[role]).reduce((a, b) => a + b, 0);
  const rows = [
    row('requests (measured window)', '', (f) => `${int(f.requests)} in ${f.seconds.toFixed(1)} s`),
    row('requests/s', '', (f) => int(f.requestsPerSecond)),
    row('database statements per request', '', (f) => `${f.statementsPerRequest.toFixed(3)} (${int(f.statements)})`),
    row('**deduplication of concurrent identical misses**', '100%', (f) => `${pct(f.dedupRate)} ${verdict(verdicts(f).dedup)}`),
    row('  duplicates: identical SELECTs overlapping (same instance / other instance only)', '0', (f) => `${int(f.duplicates.duplicates)} (${int(f.duplicates.sameInstance)} / ${int(f.duplicates.crossInstance)})`),
    row('  coalesced callers: joined + lease waits - takeovers', '', (f) => `${int(f.coalesced)} (${int(f.cache.joined)} + ${int(f.cache.leaseWaits)} - ${int(f.cache.leaseTakeovers)})`),
    row('  the same for lists and stats only (get(id) left out: it was a flight per instance before 7b2b1bc)', '', (f) => `${pct(f.dedupRateWithoutGet)}: ${int(f.duplicatesWithoutGet)} duplicates, ${int(f.coalescedWithoutGet)} coalesced`),
    row('  SELECTs sent (row locks of writes left out)', '', (f) => int(f.duplicates.selects)),
    row('**cache hit rate**: (hits + stale) / (hits + stale + misses)', '≥ 70%', (f) => `${f.hitRate === undefined ? '— (no cache reads)' : pct(f.hitRate)} ${pass(verdicts(f).hitRate!)}`),
    row('  hits local + shared, stale, misses', '', (f) => `${int(f.cache.hitsLocal)} + ${int(f.cache.hitsShared)}, ${int(f.cache.stale)}, ${int(f.cache.misses)}`),
    row('**latency p50 / p95 / p99, all requests (ms)**', 'p95 ≤ 200', (f) => `${triple(f.latency.all)} ${pass(verdicts(f).p95!)}`),
    row('  reads (incl. the check reads)', '', (f) => triple(f.latency.reads)),
    row('  writes (POST, PATCH)', '', (f) => triple(f.latency.writes)),
    row('**database pool waits** (checkouts that found every connection busy)', '0', (f) => `${int(f.pool.waits)} of ${int(f.pool.checkouts)} ${pass(verdicts(f).pool!)}`),
    row('  pool wait time p99 (histogram estimate) / most checkouts pending at a 1 s sample', '', (f) => `${f.pool.waitP99Ms === undefined ? '—' : f.pool.waitP99BucketMs! <= 0.1 ? '≤ 0.1 ms' : `${f.pool.waitP99Ms.toFixed(1)} ms`} / ${int(f.pool.pendingMax)}`),
    row('**stale reads after acknowledged writes**, instance that took the write', '0', (f) => `${int(f.staleWriter)} of ${int(checks(f, 'writer'))} ${pass(verdicts(f).staleWriter!)}`),
    row('**stale reads after acknowledged writes**, the other instance', '0', (f) => `${int(f.staleOther)} of ${int(checks(f, 'other'))} ${pass(verdicts(f).staleOther!)}`),
    row('errors (non-2xx answers, network errors)', '0', (f) => int(f.failed)),
    row('CPU ms per request: instances / PostgreSQL / Redis / load generator / other', '', (f) => cpuPerRequest(f)),
    row('  all cores busy (of which "other": processes not of this bench, kernel)', '', (f) => (f.cpu ? `${pct(f.cpu.busyShare)} (${pct(f.cpu.otherShare)})` : '—')),
  ];
  return markdownTable(['metric', 'target', ...modes.map((m) => m.label)], rows);
}

export function duplicatesTable(modes: Figures[]): string {
  const rows = COUNTED_KINDS.filter((k) => modes.some((f) => f.duplicates.byKind.get(k)?.selects)).map((kind) => [
    kind,
    ...modes.flatMap((f) => {
      const t = f.duplicates.byKind.get(kind);
      return t ? [int(t.selects), `${int(t.duplicates)} (${int(t.crossInstance)})`] : ['0', '0'];
    }),
  ]);
  return markdownTable(['SELECT', ...modes.flatMap((f) => [`${f.label}: sent`, `${f.label}: duplicates (other instance only)`])], rows, ['l', ...modes.flatMap(() => ['r', 'r'] as const)]);
}

export function latencyTable(modes: Figures[]): string {
  const classes = [...(modes[0]?.latency.byClass.keys() ?? [])];
  const rows = classes.map((c) => [c, ...modes.flatMap((f) => {
    const s = f.latency.byClass.get(c)!;
    return [int(s.count), triple(s)];
  })]);
  return markdownTable(['request', ...modes.flatMap((f) => [`${f.label}: n`, `${f.label}: p50 / p95 / p99 ms`])], rows, ['l', ...modes.flatMap(() => ['r', 'r'] as const)]);
}

export function methodsTable(modes: Figures[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const f of modes) {
    for (const [method, c] of f.byMethod) {
      rows.push([f.label, method, pct(hitRateOf(c)), int(c.hitsLocal), int(c.hitsShared), int(c.stale), int(c.misses), int(c.flights), int(c.joined), int(c.leaseWaits), int(c.leaseTakeovers), `${int(c.loads)} (${int(c.refreshes)})`]);
    }
  }
  if (rows.length === 0) return undefined;
  return markdownTable(['mode', 'method', 'hit rate', 'hits local', 'hits shared', 'stale', 'misses', 'flights', 'joined', 'lease waits', 'takeovers', 'loads (refreshes)'], rows, ['l', 'l', ...Array<'r'>(10).fill('r')]);
}

export function staleTable(modes: Figures[]): string {
  const kinds: CheckKind[] = ['id', 'list new', 'list old', 'created'];
  const rows = (['writer', 'other'] as Role[]).flatMap((role) =>
    kinds.map((k) => [`${role === 'writer' ? 'instance that took the write' : 'the other instance'}: ${CHECK_READS[k]}`, ...modes.map((f) => `${int(f.stale.stale[role][k])} of ${int(f.stale.checks[role][k])}`)]),
  );
  rows.push(['list reads that could not tell (incident older than the 100 newest rows)', ...modes.map((f) => int(f.stale.unverifiable))]);
  rows.push([
    'a stale instance read again until fresh: ms after the write was answered (max)',
    ...modes.map((f) => {
      const t = f.stale.freshAfterMs;
      if (t.length === 0) return '—';
      const worst = Math.max(...t);
      return worst === Infinity ? `still stale after ~1 s: ${t.filter((x) => x === Infinity).length} of ${t.length}` : `${ms(worst)} (${t.length} reads)`;
    }),
  ]);
  rows.push(['PATCHes acknowledged (of sent) / also checked in lists', ...modes.map((f) => `${int(f.updates.acknowledged)} (${int(f.updates.sent)}) / ${int(f.updates.listChecked)}`)]);
  rows.push(['POSTs acknowledged (of sent) / checked in lists', ...modes.map((f) => `${int(f.creates.acknowledged)} (${int(f.creates.sent)}) / ${int(f.creates.listChecked)}`)]);
  return markdownTable(['stale reads, by instance and read', ...modes.map((f) => f.label)], rows, ['l', ...modes.map(() => 'r' as const)]);
}

export function failuresText(modes: Figures[]): string[] {
  const lines: string[] = [];
  for (const f of modes) {
    if (f.failures.size) lines.push(`${f.label}: failed requests: ${[...f.failures].map(([k, n]) => `${k} x${n}`).join(', ')}`);
    if (f.stale.failed) lines.push(`${f.label}: check reads that did not answer 200: ${f.stale.failed}`);
    for (const e of f.stale.examples) lines.push(`${f.label}: stale: ${e}`);
  }
  return lines;
}
