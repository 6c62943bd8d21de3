import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresLogin {
  user: string;
  password: string;
}

/**
 * The port of the PostgreSQL that holds `dir`, from the `postmaster.pid` it writes there while it
 * runs (its fourth line); `undefined` when there is none. The file may be stale after a crash.
 */
export function postmasterPort(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const port = Number(text.split('\n')[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

const client = (port: number, login: PostgresLogin, database = 'postgres') =>
  new pg.Client({ host: '127.0.0.1', port, ...login, database, connectionTimeoutMillis: 2_000 });

/** Whether a PostgreSQL on 127.0.0.1:`port` answers and lets `login` in. */
export async function acceptsLogin(port: number, login: PostgresLogin): Promise<boolean> {
  const probe = client(port, login);
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return true;
  } catch {
    return false;
  } finally {
    await probe.end().catch(() => undefined);
  }
}

/** Creates `database` unless it exists (another process may create it at the same time). */
export async function createDatabaseIfMissing(port: number, login: PostgresLogin, database: string): Promise<void> {
  const admin = client(port, login);
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return;
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`).catch((error: Error & { code?: string }) => {
      if (error.code !== '42P04') throw error; // duplicate_database
    });
  } finally {
    await admin.end();
  }
}
