import fc from 'fast-check';
import { SEVERITIES, STATUSES, type Severity, type Status } from './incident-event.entity.js';
import { createdTags, incidentTag, listTag, listTagsOf, STATS_TAG, updatedTags, type ListFilter, type TaggedIncident } from './incident-tags.js';

const PREFIX = 'incidents:list:';
/** Namespaces that would collide under a naive encoding (a `*` wildcard, `:` or `,` separators, `null`, quotes, brackets). */
const TRICKY = ['*', ':', '::', ',', 'null', 'NULL', '"', '\\', '"null"', 'a,null', 'a","b', '[', ']', '\\u005b', '[object Object]', '[object ', 'payments', 'Payments', ' payments', '🚀', 'incidents'];

const incident = (namespace: string, severity: Severity, status: Status, id = '7b0f0c2e-0000-4000-8000-000000000001'): TaggedIncident => ({ id, namespace, severity, status });
/** Whether the list read with `filter` can show `incident`: the query's WHERE (IncidentsService.filtered). */
const shows = (filter: ListFilter, { namespace, severity, status }: TaggedIncident) =>
  (!filter.namespace || filter.namespace === namespace) && (!filter.severity || filter.severity === severity) && (!filter.status || filter.status === status);

const namespaceArb = fc.oneof(fc.constantFrom(...TRICKY), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }));
const incidentArb = fc.record({ id: fc.uuid(), namespace: namespaceArb, severity: fc.constantFrom(...SEVERITIES), status: fc.constantFrom(...STATUSES) });
const filterArb = fc.record(
  { namespace: fc.option(namespaceArb), severity: fc.option(fc.constantFrom(...SEVERITIES)), status: fc.option(fc.constantFrom(...STATUSES)) },
  { requiredKeys: [] },
);
/** A filter drawn from an incident's own values (so it matches often) or at random. */
const filterNear = (seed: TaggedIncident) =>
  fc.oneof(
    filterArb,
    fc.record({
      namespace: fc.constantFrom(undefined, seed.namespace),
      severity: fc.constantFrom(undefined, seed.severity),
      status: fc.constantFrom(undefined, seed.status),
    }),
  );

describe('listTag', () => {
  it('is the filters as JSON, null for an absent one', () => {
    expect(listTag({ namespace: 'payments', status: 'open' })).toBe('incidents:list:["payments",null,"open"]');
    expect(listTag({})).toBe('incidents:list:[null,null,null]');
  });

  it('an absent, undefined, null or empty filter is one and the same (the query ignores all four)', () => {
    const tags = [{}, { namespace: undefined }, { namespace: null }, { namespace: '' }].map((filter) => listTag({ ...filter, severity: 'low' }));
    expect(new Set(tags).size).toBe(1);
  });

  it('no namespace spells another filter, whatever it holds', () => {
    const filters: ListFilter[] = [{}, ...TRICKY.map((namespace) => ({ namespace })), ...TRICKY.map((namespace) => ({ namespace, severity: 'high' as const }))];
    const tags = filters.map(listTag);
    expect(new Set(tags).size).toBe(filters.length);
  });

  it('is injective: the JSON after the prefix reads back as the filters', () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        const tag = listTag(filter);
        expect(tag.startsWith(PREFIX)).toBe(true);
        expect(JSON.parse(tag.slice(PREFIX.length))).toEqual([filter.namespace || null, filter.severity || null, filter.status || null]);
      }),
    );
  });

  it('never contains `[object ` (the library refuses such a tag), even for the namespace "[object Object]"', () => {
    expect(listTag({ namespace: '[object Object]' })).toBe('incidents:list:["\\u005bobject Object]",null,null]');
    fc.assert(fc.property(filterArb, (filter) => !listTag(filter).includes('[object ')));
  });
});

describe('listTagsOf: the lists an incident appears in', () => {
  it('are exactly the 8 whose every filter is absent or equal to its value', () => {
    const tags = listTagsOf(incident('payments', 'high', 'open'));
    expect(tags).toHaveLength(8);
    expect(new Set(tags).size).toBe(8);
    expect(tags).toEqual(
      expect.arrayContaining([
        listTag({}),
        listTag({ namespace: 'payments' }),
        listTag({ severity: 'high' }),
        listTag({ status: 'open' }),
        listTag({ namespace: 'payments', severity: 'high' }),
        listTag({ namespace: 'payments', status: 'open' }),
        listTag({ severity: 'high', status: 'open' }),
        listTag({ namespace: 'payments', severity: 'high', status: 'open' }),
      ]),
    );
  });

  it('property: a list shows the incident if and only if its tag is among them', () => {
    fc.assert(fc.property(incidentArb.chain((i) => fc.tuple(fc.constant(i), filterNear(i))), ([i, filter]) => listTagsOf(i).includes(listTag(filter)) === shows(filter, i)));
  });
});

describe('createdTags', () => {
  it('the new incident’s 8 lists and the stats; not its own tag (its id is new)', () => {
    const created = incident('payments', 'critical', 'open');
    expect(createdTags(created).sort()).toEqual([...listTagsOf(created), STATS_TAG].sort());
    expect(createdTags(created)).not.toContain(incidentTag(created.id));
  });
});

describe('updatedTags', () => {
  const before = incident('payments', 'high', 'open');

  it('a title change: the incident and its 8 lists, not the stats', () => {
    expect(updatedTags(before, { ...before }).sort()).toEqual([incidentTag(before.id), ...listTagsOf(before)].sort());
  });

  it('a namespace change: the lists of both namespaces (the unfiltered ones once), not the stats', () => {
    const after = { ...before, namespace: 'search' };
    const tags = updatedTags(before, after);
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags.sort()).toEqual([...new Set([incidentTag(before.id), ...listTagsOf(before), ...listTagsOf(after)])].sort());
    expect(tags).toHaveLength(1 + 8 + 4); // the 4 lists without a namespace filter are shared
    expect(tags).not.toContain(STATS_TAG);
  });

  it.each([
    ['severity', { severity: 'low' as const }],
    ['status', { status: 'resolved' as const }],
  ])('a %s change evicts the stats too', (_, change) => {
    const tags = updatedTags(before, { ...before, ...change });
    expect(tags).toContain(STATS_TAG);
    expect(tags).toEqual(expect.arrayContaining([...listTagsOf(before), ...listTagsOf({ ...before, ...change })]));
  });

  it('property: every list that showed the incident before or shows it after is evicted, no other list, and the stats iff a count moved', () => {
    const change = incidentArb.chain((b) =>
      fc.tuple(
        fc.constant(b),
        fc.record({ namespace: fc.oneof(fc.constant(b.namespace), namespaceArb), severity: fc.constantFrom(...SEVERITIES), status: fc.constantFrom(...STATUSES) }).map((a) => ({ ...b, ...a })),
      ),
    );
    fc.assert(
      fc.property(change.chain(([b, a]) => fc.tuple(fc.constant(b), fc.constant(a), fc.oneof(filterNear(b), filterNear(a)))), ([b, a, filter]) => {
        const tags = updatedTags(b, a);
        expect(new Set(tags).size).toBe(tags.length);
        expect(tags).toContain(incidentTag(a.id));
        expect(tags.includes(listTag(filter))).toBe(shows(filter, b) || shows(filter, a));
        expect(tags.includes(STATS_TAG)).toBe(b.severity !== a.severity || b.status !== a.status);
      }),
    );
  });
});
