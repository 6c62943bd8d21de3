// The loader every strategy calls on a miss: a real PostgreSQL query through a pg Pool (max 10),
// 20 ms long (pg_sleep), returning a small row with a Date.
import pg from 'pg';

export const DATABASE_URL = process.env.PEERS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const POOL_SIZE = 10;
export const QUERY_MS = 20;

/** What a read returns. `note` is text that looks like a timestamp: a store that revives Dates by pattern turns it into one. */
export interface Row {
  key: string;
  at: Date;
  note: string;
}

const SQL = `SELECT $1::text AS key, now() AS at, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS note FROM pg_sleep(${QUERY_MS / 1000})`;

export class Loader {
  /** Loader calls since the last reset: every call counts, failed ones too. */
  calls = 0;
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL_SIZE, idleTimeoutMillis: 0 });

  constructor() {
    this.pool.on('error', () => undefined); // an idle client's error: the next query reports it
  }

  async load(key: string): Promise<Row> {
    this.calls++;
    const { rows } = await this.pool.query<Row>(SQL, [key]);
    return rows[0];
  }

  /** The same query, then a throw: a loader that fails after its 20 ms. */
  async fail(key: string): Promise<Row> {
    this.calls++;
    await this.pool.query(SQL, [key]);
    throw new Error(`loader failed for ${key}`);
  }

  /** Opens every connection of the pool, so no strategy pays for that; checks the row's shape. */
  async warm(): Promise<void> {
    const rows = await Promise.all(Array.from({ length: POOL_SIZE }, (_, i) => this.load(`warm-${i}`)));
    if (!rows.every((r) => r.at instanceof Date && typeof r.note === 'string')) throw new Error('the loader query did not return { key, at: Date, note: string }');
    this.calls = 0;
  }

  async serverVersion(): Promise<string> {
    const { rows } = await this.pool.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
