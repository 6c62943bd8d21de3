import type { AppConfig } from '../config/app-config.js';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface Database {
  url: string;
  embedded: boolean;
  /** The embedded PostgreSQL was already running (an `npm start`): `stop` leaves it running. */
  alreadyRunning: boolean;
  stop(): Promise<void>;
}

/** DATABASE_URL when set, else the embedded PostgreSQL (started here unless it already runs). */
export async function resolveDatabase(config: AppConfig): Promise<Database> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, alreadyRunning: false, stop: async () => undefined };
  const embedded = await startEmbeddedPostgres();
  return { url: embedded.url, embedded: true, alreadyRunning: embedded.alreadyRunning, stop: embedded.stop };
}

/**
 * resolveDatabase for the entry points: when the embedded PostgreSQL cannot start, `report` gets
 * one line saying what to do and the process ends with code 1 (no stack trace).
 */
export async function resolveDatabaseOrExit(config: AppConfig, report: (line: string) => void): Promise<Database> {
  try {
    return await resolveDatabase(config);
  } catch (error) {
    if (!(error instanceof EmbeddedPostgresError)) throw error;
    report(error.message);
    process.exit(1);
  }
}
