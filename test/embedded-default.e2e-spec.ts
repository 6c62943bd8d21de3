import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DataSource } from 'typeorm';
import { createApp } from '../apps/incidents/src/bootstrap.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../apps/incidents/src/database/embedded-postgres.js';
import { seedIfEmpty } from '../apps/incidents/src/database/seed-incidents.js';

// What `npm start` and `npm run demo` use with no servers configured: the embedded PostgreSQL
// and the app's bounded in-memory store.
describe('the embedded default (no DATABASE_URL, no REDIS_URL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-embedded-'));
  let embedded: EmbeddedDatabase | undefined;
  afterAll(async () => {
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a real PostgreSQL, migrates, seeds once, and serves cached reads from memory', async () => {
    embedded = await startEmbeddedPostgres(dir, 40_000 + Math.floor(Math.random() * 10_000));
    const app = await createApp({ databaseUrl: embedded.url, port: 0, singleFlight: true, cacheKeyPrefix: 'incidents:' }, false);
    await app.init();
    expect(await seedIfEmpty(app.get(DataSource), 500)).toBe(500);
    expect(await seedIfEmpty(app.get(DataSource), 500)).toBe(0);
    const http = request(app.getHttpServer() as App);
    const { body } = await http.get('/incidents?limit=3').expect(200);
    expect(body.total).toBe(500);
    expect((await http.get('/health').expect(200)).body.details.cache.store).toMatch(/in-memory/);
    await app.close();
  }, 60_000);
});
