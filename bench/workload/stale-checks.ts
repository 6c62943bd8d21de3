// Stale reads after an acknowledged write: what the driver read back from an instance right after
// its PATCH was answered 2xx, compared with what it wrote.
import type { Incident } from './workload-mix.js';

/** The fields a PATCH sent (title always, status and severity when they changed). */
export type Written = Partial<Pick<Incident, 'status' | 'severity' | 'title'>>;

export type Role = 'writer' | 'other';
export type CheckKind = 'id' | 'list new' | 'list old' | 'created';

export const CHECK_READS: Record<CheckKind, string> = {
  id: 'GET /incidents/:id',
  'list new': 'list of its new filters (limit 100)',
  'list old': 'list of its old filters (limit 100)',
  created: 'after a POST, the list of its filters (limit 100)',
};

export interface StaleTally {
  /** Reads checked, by the role of the instance read (the one that took the PATCH, the other) and kind. */
  checks: Record<Role, Record<CheckKind, number>>;
  stale: Record<Role, Record<CheckKind, number>>;
  /** List reads that could not tell (the incident is older than the 100 newest rows of its filter). */
  unverifiable: number;
  /** Check reads that did not answer 200 (errors, not counted as checks). */
  failed: number;
  /** A few stale reads, as seen. */
  examples: string[];
  /** For each stale read: ms from the write's answer until a read again of the same instance was fresh (Infinity: not within about a second). */
  freshAfterMs: number[];
}

const kinds = (): Record<CheckKind, number> => ({ id: 0, 'list new': 0, 'list old': 0, created: 0 });
export const staleTally = (): StaleTally => ({ checks: { writer: kinds(), other: kinds() }, stale: { writer: kinds(), other: kinds() }, unverifiable: 0, failed: 0, examples: [], freshAfterMs: [] });

const MAX_EXAMPLES = 5;

/** The field names among `written` whose value `seen` does not have. */
export function differences(written: Written, seen: Record<string, unknown>): string[] {
  return Object.entries(written)
    .filter(([field, value]) => value !== undefined && seen[field] !== value)
    .map(([field, value]) => `${field}: wrote ${JSON.stringify(value)}, read ${JSON.stringify(seen[field])}`);
}

interface PageItem {
  id: string;
  createdAt: string;
  [field: string]: unknown;
}

/**
 * A list read with the incident's new filters (limit 100): stale if the incident is missing though
 * it belongs in those rows, or shows other values than written. Newest first (createdAt, id): when
 * the page is full and the incident is older than its last row, it is rightly absent (unverifiable).
 */
export function checkNewList(incident: Incident, written: Written, page: { items: PageItem[]; total: number }, limit: number): 'fresh' | 'unverifiable' | string {
  const found = page.items.find((item) => item.id === incident.id);
  if (found) {
    const diff = differences(written, found);
    return diff.length ? `in its new list with old values (${diff.join('; ')})` : 'fresh';
  }
  if (page.items.length < limit) return `missing from its new list (${page.items.length} of ${page.total} rows shown)`;
  const last = page.items.at(-1)!;
  const lastAt = Date.parse(last.createdAt);
  const olderThanPage = incident.createdAt < lastAt || (incident.createdAt === lastAt && incident.id < last.id);
  return olderThanPage ? 'unverifiable' : 'missing from its new list (it sorts within the page)';
}

/** A list read with the incident's old filters: stale if the incident is still there. */
export function checkOldList(incident: Incident, page: { items: PageItem[] }): 'fresh' | string {
  const found = page.items.find((item) => item.id === incident.id);
  return found ? `still in the list of its old filters (status ${String(found.status)}, severity ${String(found.severity)})` : 'fresh';
}

export function recordCheck(tally: StaleTally, role: Role, kind: CheckKind, outcome: string, describe: () => string): void {
  if (outcome === 'unverifiable') return void tally.unverifiable++;
  tally.checks[role][kind]++;
  if (outcome === 'fresh') return;
  tally.stale[role][kind]++;
  if (tally.examples.length < MAX_EXAMPLES) tally.examples.push(`${describe()}: ${outcome}`);
}
