// Duplicates seen from the database: identical SELECTs (same text and parameters) whose
// executions overlap in time, within one instance or across the fleet. The second (and every
// later) execution that starts while an identical one is still running is a duplicate: its
// caller could have joined the first instead of running its own.
import type { QueryRecord } from './query-log.js';

export interface Execution {
  pid: number;
  hash: string;
  shape: string;
  start: number;
  end: number;
}

/** What a SELECT's text is, for the breakdown (the app's queries, as TypeORM writes them). */
export type QueryKind = 'list' | 'list count' | 'get' | 'stats' | 'row lock' | 'other';

export function kindOf(text: string): QueryKind {
  if (/\bFOR (NO KEY )?UPDATE\b|\bFOR (KEY )?SHARE\b/i.test(text)) return 'row lock';
  if (/COUNT\(\*\)\s+OVER\s*\(\)/i.test(text)) return 'list';
  if (/\bGROUP BY\b/i.test(text)) return 'stats';
  if (/\bCOUNT\(/i.test(text)) return 'list count';
  if (/"id"\s*=\s*\$1/i.test(text)) return 'get';
  return 'other';
}

/**
 * Row locks are left out: a `SELECT ... FOR UPDATE` is the first statement of a write, not a read
 * a cache could serve; two of them on one row wait for each other by design.
 */
export const COUNTED_KINDS: readonly QueryKind[] = ['list', 'list count', 'get', 'stats', 'other'];

export class QueryLog {
  readonly executions: Execution[] = [];
  readonly shapes = new Map<string, string>(); // shape hash -> SQL text

  add(pid: number, records: QueryRecord[], shapes: [string, string][]): void {
    for (const [shape, text] of shapes) this.shapes.set(shape, text);
    for (const [hash, shape, start, end] of records) this.executions.push({ pid, hash, shape, start, end });
  }

  kind(e: Execution): QueryKind {
    const text = this.shapes.get(e.shape);
    return text === undefined ? 'other' : kindOf(text);
  }
}

export interface KindCount {
  selects: number;
  duplicates: number;
  /** Duplicates with an identical execution in flight in another instance only. */
  crossInstance: number;
}

export interface DuplicateReport {
  selects: number;
  duplicates: number;
  /** An identical execution was running in the same instance (a local flight would have joined it). */
  sameInstance: number;
  /** Identical executions were running only in the other instance (only a fleet-wide flight joins those). */
  crossInstance: number;
  byKind: Map<QueryKind, KindCount>;
  /** Row locks seen (left out of the counts). */
  rowLocks: number;
}

/**
 * Counts, among the executions that started in [from, to), those that started while an identical
 * one (any start time) was still running. Linear after a sort by start, per identical query.
 */
export function findDuplicates(log: QueryLog, from: number, to: number): DuplicateReport {
  const groups = new Map<string, Execution[]>();
  for (const e of log.executions) {
    let group = groups.get(e.hash);
    if (!group) groups.set(e.hash, (group = []));
    group.push(e);
  }
  const report: DuplicateReport = { selects: 0, duplicates: 0, sameInstance: 0, crossInstance: 0, byKind: new Map(), rowLocks: 0 };
  const tally = (kind: QueryKind) => {
    let t = report.byKind.get(kind);
    if (!t) report.byKind.set(kind, (t = { selects: 0, duplicates: 0, crossInstance: 0 }));
    return t;
  };
  for (const group of groups.values()) {
    group.sort((a, b) => a.start - b.start);
    const kind = log.kind(group[0]);
    let running: Execution[] = [];
    for (const e of group) {
      running = running.filter((r) => r.end > e.start);
      const counted = e.start >= from && e.start < to;
      if (counted && kind === 'row lock') report.rowLocks++;
      else if (counted) {
        const t = tally(kind);
        report.selects++;
        t.selects++;
        if (running.length > 0) {
          report.duplicates++;
          t.duplicates++;
          if (running.some((r) => r.pid === e.pid)) report.sameInstance++;
          else (report.crossInstance++, t.crossInstance++);
        }
      }
      running.push(e);
    }
  }
  return report;
}
