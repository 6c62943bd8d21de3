// What the driver asks for: the list filters (namespaces x severity x status, some pages past the
// first), the incidents it reads and writes, the share of each kind of request.
import { shuffled, Zipf } from './zipf.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export const STATUSES = ['open', 'resolved'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type Status = (typeof STATUSES)[number];

/** An incident as the driver knows it: seeded, then changed by its own acknowledged PATCHes. */
export interface Incident {
  id: string;
  namespace: string;
  severity: Severity;
  status: Status;
  title: string;
  createdAt: number;
  /** A write of it whose outcome is unknown (an error or timeout): never written or checked again. */
  uncertain?: boolean;
}

export interface ListQuery {
  namespace?: string;
  severity?: Severity;
  status?: Status;
  limit: number;
  offset: number;
}

/** Pages of each filter combination: most reads are the first page, some page on. */
const PAGES = [
  { limit: 20, offset: 0 },
  { limit: 20, offset: 20 },
  { limit: 50, offset: 0 },
  { limit: 20, offset: 40 },
];

/** Every filter combination (each filter absent or one of its values) times every page. */
export function listQueries(namespaces: string[]): ListQuery[] {
  const out: ListQuery[] = [];
  for (const namespace of [undefined, ...namespaces])
    for (const severity of [undefined, ...SEVERITIES])
      for (const status of [undefined, ...STATUSES]) for (const page of PAGES) out.push({ namespace, severity, status, ...page });
  return out;
}

export function listPath(q: Partial<ListQuery>): string {
  const params = new URLSearchParams();
  for (const key of ['namespace', 'severity', 'status', 'limit', 'offset'] as const) if (q[key] !== undefined) params.set(key, String(q[key]));
  return `/incidents?${params}`;
}

export type Operation = 'list' | 'get' | 'stats' | 'create' | 'update';

export type Mix = readonly [Operation, number][];

/** Shares of the requests a loop sends: by default 5% writes, 2 in 5 of them creates; reads 55 : 25 : 15. */
export function mixWith(writeShare = 0.05): Mix {
  const reads = (1 - writeShare) / 0.95;
  return [
    ['list', 0.55 * reads],
    ['get', 0.25 * reads],
    ['stats', 0.15 * reads],
    ['create', 0.4 * writeShare],
    ['update', 0.6 * writeShare],
  ];
}

export function describeMix(mix: Mix): string {
  const names: Record<Operation, string> = { list: 'lists', get: 'GET /incidents/:id', stats: 'stats', create: 'POST', update: 'PATCH' };
  return mix.map(([op, share]) => `${+(share * 100).toFixed(2)}% ${names[op]}`).join(', ');
}

export function pickOperation(mix: Mix, random: () => number): Operation {
  let u = random();
  for (const [op, share] of mix) if ((u -= share) < 0) return op;
  return mix[0][0];
}

export interface Catalog {
  lists: Zipf<ListQuery>;
  incidents: Zipf<Incident>;
  namespaces: string[];
}

/** The ranks (which list, which incident is the hottest) come from a seeded shuffle: the same every run. */
export function catalog(incidents: Incident[], namespaces: string[], s: number, random: () => number): Catalog {
  return {
    lists: new Zipf(shuffled(listQueries(namespaces), random), s),
    incidents: new Zipf(shuffled(incidents, random), s),
    namespaces,
  };
}
