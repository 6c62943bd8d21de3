import type { DataSource } from 'typeorm';
import { IncidentEvent, SEVERITIES } from '../incidents/incident-event.entity.js';

export const SEED_NAMESPACES = ['payments', 'checkout', 'search', 'identity', 'notifications'] as const;
export const DEFAULT_SEED_COUNT = 50_000;
const BATCH = 2_000;
const EPOCH = Date.UTC(2026, 0, 1);
const TITLES = ['Latency above SLO', 'Error rate spike', 'Queue backlog growing', 'Certificate expiring', 'Disk almost full', 'Replica lag'];

/** mulberry32: a tiny seeded PRNG, so every seed run writes the very same rows. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const uuidFrom = (next: () => number): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(next() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

export function seedRows(count: number): Partial<IncidentEvent>[] {
  const next = random(42);
  return Array.from({ length: count }, (_, i) => {
    const createdAt = new Date(EPOCH + Math.floor(next() * 90 * 86_400_000));
    const resolved = next() < 0.6;
    return {
      id: uuidFrom(next),
      namespace: SEED_NAMESPACES[Math.floor(next() * SEED_NAMESPACES.length)],
      severity: SEVERITIES[Math.floor(next() * SEVERITIES.length)],
      status: resolved ? 'resolved' : 'open',
      title: `${TITLES[Math.floor(next() * TITLES.length)]} #${i + 1}`,
      description: next() < 0.5 ? null : 'Detected by synthetic monitoring',
      createdAt,
      resolvedAt: resolved ? new Date(createdAt.getTime() + Math.floor(next() * 6 * 3_600_000)) : null,
    };
  });
}

/** Replaces every incident with the deterministic seed. */
export async function seedIncidents(dataSource: DataSource, count = DEFAULT_SEED_COUNT, onProgress?: (done: number) => void): Promise<number> {
  const rows = seedRows(count);
  await dataSource.transaction(async (manager) => {
    await manager.query('TRUNCATE incident_events');
    for (let i = 0; i < rows.length; i += BATCH) {
      await manager.insert(IncidentEvent, rows.slice(i, i + BATCH));
      onProgress?.(Math.min(i + BATCH, rows.length));
    }
  });
  await dataSource.query('ANALYZE incident_events');
  return rows.length;
}

/** Seeds only an empty table: how the embedded default starts with data. Returns the rows written. */
export async function seedIfEmpty(dataSource: DataSource, count = DEFAULT_SEED_COUNT): Promise<number> {
  const [{ exists }] = await dataSource.query('SELECT EXISTS (SELECT 1 FROM incident_events) AS exists');
  return exists ? 0 : seedIncidents(dataSource, count);
}
