// Markdown tables and the two plots of bench/peers.bench.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BurstResult, WarmResult } from './measure.js';
import { percentile } from '../percentile.js';
import { accumulate, classify, type CommandCounts } from './redis-stats.js';
import type { Strategy } from './strategy.js';
import { linePlot, MARKERS, PALETTE } from './svg-plot.js';

export interface StrategyResult {
  strategy: Strategy;
  /** Counted rounds, per burst size. */
  bursts: Map<number, BurstResult[]>;
  failing?: BurstResult;
  warm?: WarmResult;
  error?: string;
}

export function markdownTable(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map(line)].join('\n');
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** A mean per burst: an integer as is, else one decimal. */
const mean = (n: number) => (Math.abs(n - Math.round(n)) < 1e-9 ? int(n) : n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
const ms = (n: number) => (n >= 100 ? int(n) : n.toFixed(1));

interface BurstSummary {
  rounds: number;
  loaderCalls: number;
  loaderRange: [number, number];
  reads: number;
  writes: number;
  total: number;
  commands: CommandCounts;
  p50: number;
  p99: number;
  errors: number;
}

export function summarize(results: BurstResult[]): BurstSummary {
  const rounds = results.length;
  const commands: CommandCounts = new Map();
  for (const r of results) accumulate(commands, r.commands);
  const { reads, writes, total } = classify(commands);
  const all = new Float64Array(results.reduce((sum, r) => sum + r.latencies.length, 0));
  let offset = 0;
  for (const r of results) (all.set(r.latencies, offset), (offset += r.latencies.length));
  all.sort();
  const calls = results.map((r) => r.loaderCalls);
  return {
    rounds,
    loaderCalls: calls.reduce((a, b) => a + b, 0) / rounds,
    loaderRange: [Math.min(...calls), Math.max(...calls)],
    reads: reads / rounds,
    writes: writes / rounds,
    total: total / rounds,
    commands,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  };
}

function commandList(commands: CommandCounts, rounds: number): string {
  const order = ['GET', 'MGET', 'SET', 'EXPIRE', 'PEXPIRE', 'EVAL', 'EVALSHA', 'PUBLISH'];
  const names = [...commands.keys()].sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
  return names.map((n) => `${n} ${mean(commands.get(n)! / rounds)}`).join(', ') || 'none';
}

export function burstTable(results: StrategyResult[], n: number): string {
  const rows: (string | number)[][] = [];
  for (const r of results) {
    const bursts = r.bursts.get(n);
    if (!bursts?.length) {
      rows.push([r.strategy.label, '', r.error ? `failed: ${r.error}` : 'not run', '', '', '', '', '', '', '']);
      continue;
    }
    const s = summarize(bursts);
    const [lo, hi] = s.loaderRange;
    rows.push([
      r.strategy.label,
      s.rounds,
      lo === hi ? int(lo) : `${mean(s.loaderCalls)} (${int(lo)}–${int(hi)})`,
      mean(s.reads),
      mean(s.writes),
      mean(s.total),
      commandList(s.commands, s.rounds),
      ms(s.p50),
      ms(s.p99),
      s.errors,
    ]);
  }
  return markdownTable(
    ['strategy', 'rounds', 'loader calls', 'cache reads', 'cache writes', 'Redis cmds', 'Redis commands, per burst', 'p50 ms', 'p99 ms', 'errors'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r'],
  );
}

/** yes / leader only / ...: whether callers get `at` as a Date, in bursts and on warm hits. */
export function typesKept(r: StrategyResult): string {
  const bursts = [...r.bursts.values()].flat();
  if (!bursts.length || !r.warm) return 'n/a';
  const callers = bursts.reduce((s, b) => s + b.n - b.errors, 0);
  const dates = bursts.reduce((s, b) => s + b.dates, 0);
  const loaded = bursts.reduce((s, b) => s + Math.min(b.loaderCalls, b.n), 0);
  const strings = bursts.reduce((s, b) => s + b.strings, 0);
  let label: string;
  if (dates === callers && r.warm.date) label = 'yes';
  else if (dates === callers && bursts.every((b) => b.loaderCalls >= b.n)) label = 'no: only callers that ran the query; hits get a string';
  else if (dates === callers) label = 'in the burst only (one shared object); hits get a string';
  else if (dates === loaded) label = 'leader only; hits get a string';
  else label = `${dates} of ${callers} callers; hits: ${r.warm.date ? 'Date' : 'string'}`;
  if (strings < callers || !r.warm.string) label += ' (but date-like text comes back as a Date)';
  return label;
}

export function typesTable(results: StrategyResult[], n: number): string {
  const rows = results.map((r) => {
    const bursts = r.bursts.get(n) ?? [];
    const callers = bursts.reduce((s, b) => s + b.n - b.errors, 0);
    const perBurst = (f: (b: BurstResult) => number) => (bursts.length ? mean(bursts.reduce((s, b) => s + f(b), 0) / bursts.length) : '');
    return [
      r.strategy.label,
      typesKept(r),
      bursts.length ? `${int(bursts.reduce((s, b) => s + b.dates, 0))} of ${int(callers)}` : '',
      r.warm ? r.warm.atType : '',
      bursts.length ? `${int(bursts.reduce((s, b) => s + b.strings, 0))} of ${int(callers)}${r.warm ? `; hit: ${r.warm.string ? 'string' : 'Date'}` : ''}` : '',
      perBurst((b) => b.distinct),
      perBurst((b) => b.frozen),
    ];
  });
  return markdownTable(
    ['strategy', 'types kept', `\`at\` a Date, bursts of ${int(n)}`, '`at` on a warm hit', '`note` (ISO text) a string', `distinct objects per burst of ${int(n)}`, 'frozen'],
    rows,
    ['l', 'l', 'r', 'l', 'l', 'r', 'r'],
  );
}

export function failureAndHitTable(results: StrategyResult[], failingCallers: number): string {
  const rows = results.map((r) => {
    const f = r.failing;
    const sorted = f ? Float64Array.from(f.latencies).sort() : undefined;
    return [
      r.strategy.label,
      f ? int(f.loaderCalls) : (r.error ?? ''),
      f ? `${int(f.errors)} of ${int(f.n)}` : '',
      sorted ? ms(percentile(sorted, 99)) : '',
      r.warm ? int(r.warm.perSecond) : '',
      r.warm ? mean(Math.round(r.warm.commandsPerHit * 100) / 100) : '',
      r.warm ? int(r.warm.loaderCalls) : '',
    ];
  });
  return markdownTable(
    ['strategy', `failing loader: loader calls (${failingCallers} callers)`, 'callers rejected', 'p99 ms', 'warm hits/s', 'Redis cmds per hit', 'loader calls during hits'],
    rows,
  );
}

/** Writes peers-p99.svg and peers-loader-calls.svg into `dir`; returns their paths. */
export function writePlots(results: StrategyResult[], sizes: number[], dir: string, subtitle: string): string[] {
  mkdirSync(dir, { recursive: true });
  const series = (value: (s: BurstSummary) => number) =>
    results.map((r, i) => ({
      label: r.strategy.label,
      color: PALETTE[i % PALETTE.length],
      marker: MARKERS[i % MARKERS.length],
      points: sizes.filter((n) => r.bursts.get(n)?.length).map((n) => ({ x: n, y: value(summarize(r.bursts.get(n)!)) })),
    }));
  const p99 = join(dir, 'peers-p99.svg');
  writeFileSync(
    p99,
    linePlot({
      title: 'p99 latency of a cold-key burst',
      subtitle,
      xLabel: 'N concurrent callers on one cold key',
      yLabel: 'p99 latency, ms',
      logX: true,
      logY: true,
      xTicks: sizes,
      series: series((s) => s.p99),
      note: 'Latency: from the burst start (all N calls made in one synchronous loop) to each caller\'s answer; loader = a 20 ms PostgreSQL query, pool of 10.',
    }),
  );
  const calls = join(dir, 'peers-loader-calls.svg');
  writeFileSync(
    calls,
    linePlot({
      title: 'Loader calls per cold-key burst',
      subtitle,
      xLabel: 'N concurrent callers on one cold key',
      yLabel: 'loader calls (database queries) per burst',
      logX: true,
      logY: true,
      xTicks: sizes,
      series: series((s) => s.loaderCalls),
      note: 'Mean per burst over the rounds; 1 = the burst was coalesced into one query.',
    }),
  );
  return [p99, calls];
}
