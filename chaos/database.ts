// A database of our own on the shared PostgreSQL (as test/support/e2e-app.ts makes one): the
// shared server is never stopped or paused; the only fault injected is a table lock, taken in
// our database from a connection of our own.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { entities, migrations } from '../apps/incidents/src/database/database.module.js';
import { seedIncidents } from '../apps/incidents/src/database/seed-incidents.js';

export const ADMIN_URL = process.env.CHAOS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The one table of the app (apps/incidents/src/database/migrations). */
export const TABLE = 'incident_events';

export class PrivateDatabase {
  private dropped = false;
  /** The lock connection, if one is open: cleanup ends it before the drop. */
  private locker?: pg.Client;

  private constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(): Promise<PrivateDatabase> {
    const name = `incidents_chaos_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await admin((client) => client.query(`CREATE DATABASE ${name}`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return new PrivateDatabase(name, url.toString());
  }

  /** The app's own migrations and seed, so the schema is exactly what the app expects. */
  async migrateAndSeed(count: number): Promise<void> {
    const source = new DataSource({ type: 'postgres', url: this.url, entities, migrations, migrationsRun: false, synchronize: false, logging: false });
    await source.initialize();
    try {
      await source.runMigrations();
      await seedIncidents(source, count);
    } finally {
      await source.destroy();
    }
  }

  /** Newest first, as GET /incidents pages them: hot ids then show up in list pages too. */
  async newestIds(count: number): Promise<{ id: string; title: string }[]> {
    return this.query<{ id: string; title: string }>(`SELECT id, title FROM ${TABLE} ORDER BY created_at DESC, id DESC LIMIT $1`, [count]);
  }

  async titles(ids: string[]): Promise<Map<string, string>> {
    const rows = await this.query<{ id: string; title: string }>(`SELECT id, title FROM ${TABLE} WHERE id = ANY($1::uuid[])`, [ids]);
    return new Map(rows.map((r) => [r.id, r.title]));
  }

  /**
   * Holds ACCESS EXCLUSIVE on the table for `holdMs`: every query on it (reads included) waits,
   * as behind a long migration. Resolves with when the lock was held and released (performance.now()).
   */
  async lockTable(holdMs: number, onLocked?: () => void): Promise<{ lockedAt: number; releasedAt: number }> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', () => undefined);
    this.locker = client;
    await client.connect();
    try {
      await client.query(`SET lock_timeout = '5s'`); // never queue behind something forever
      await client.query('BEGIN');
      await client.query(`LOCK TABLE ${TABLE} IN ACCESS EXCLUSIVE MODE`);
      const lockedAt = performance.now();
      onLocked?.();
      await sleep(holdMs);
      await client.query('ROLLBACK');
      return { lockedAt, releasedAt: performance.now() };
    } finally {
      await client.end().catch(() => undefined);
      this.locker = undefined;
    }
  }

  /** Safe to call twice; FORCE ends connections the apps may still hold. */
  async drop(): Promise<void> {
    if (this.dropped) return;
    this.dropped = true;
    await this.locker?.end().catch(() => undefined);
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }
}

async function admin(run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}
