import type { IncidentEvent, Severity, Status } from './incident-event.entity.js';

/**
 * The cache tags of the incidents service: what each read is tagged with and what each write
 * evicts, in one place, so the two cannot drift apart. A write evicts only what it can change:
 *
 * - a list is tagged with the one filter combination it was read with (every page and limit of it
 *   shares the tag). An incident (ns, sev, st) is in exactly the 8 lists whose every filter is
 *   absent or equal to its value, so a write evicts those 8 for the old values and the 8 for the
 *   new ones: moving an incident from one filter to another empties the lists of both;
 * - `get(id)` is tagged `incident:<id>`; stats `incidents:stats`, which only a create or a
 *   change of severity or status evicts (the counts are by severity and by status).
 */

export const STATS_TAG = 'incidents:stats';

/** What a list was read with: a filter that is absent, `null` or empty selects everything. */
export interface ListFilter {
  namespace?: string | null;
  severity?: Severity | null;
  status?: Status | null;
}

/** The values of an incident its tags depend on. */
export type TaggedIncident = Pick<IncidentEvent, 'id' | 'namespace' | 'severity' | 'status'>;

export const incidentTag = (id: string): string => `incident:${id}`;

/**
 * `incidents:list:` and the filters as a JSON array, `null` for an absent one:
 * `incidents:list:["payments",null,"open"]`. A namespace is free text: JSON quotes it, so no
 * namespace (`*`, `:`, `null`, `","`...) spells another filter. Every `[` inside it is written
 * `\u005b`, still the same JSON, because the library refuses a tag containing `[object ` (the mark
 * of an object turned into a string) and a namespace may well be `[object Object]`. The text stays
 * JSON for the same array, so two filters never share a tag. An empty filter counts as absent,
 * as it does in the query (IncidentsService.filtered).
 */
export function listTag({ namespace, severity, status }: ListFilter): string {
  return `incidents:list:[${[namespace, severity, status].map(filterTerm).join(',')}]`;
}

const filterTerm = (value: string | null | undefined): string => (value ? JSON.stringify(value).replaceAll('[', '\\u005b') : 'null');

/** The tags of the 8 lists an incident with these values appears in. */
export function listTagsOf({ namespace, severity, status }: Omit<TaggedIncident, 'id'>): string[] {
  const tags: string[] = [];
  for (const ns of [null, namespace]) for (const sev of [null, severity]) for (const st of [null, status]) tags.push(listTag({ namespace: ns, severity: sev, status: st }));
  return tags;
}

/**
 * What a create evicts: the lists the new incident appears in, and the stats. Not its
 * `incident:<id>`: the id is new, drawn by the database, so no read of it can be cached yet.
 */
export function createdTags(created: TaggedIncident): string[] {
  return [...listTagsOf(created), STATS_TAG];
}

/**
 * What an update evicts: the incident, the lists it was in and those it is in now (the same 8
 * when only its title or description changed: those lists show them), and the stats only if its
 * severity or status changed. `before` must be the value the update replaced (read under the row
 * lock), or a list it left could stay stale.
 */
export function updatedTags(before: TaggedIncident, after: TaggedIncident): string[] {
  const tags = new Set([incidentTag(after.id), ...listTagsOf(before), ...listTagsOf(after)]);
  if (before.severity !== after.severity || before.status !== after.status) tags.add(STATS_TAG);
  return [...tags];
}
