import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresError } from '../apps/incidents/src/database/embedded-postgres-error.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../apps/incidents/src/database/embedded-postgres.js';

// `npm run seed` (or a second `npm start`) while `npm start` runs the embedded PostgreSQL on
// the same data folder. Starting one takes about a second (see embedded-default.e2e-spec.ts).

/** A port nothing listens on, on every local address, or that listens itself when `hold`. */
async function localPort(hold = false): Promise<{ port: number; server?: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve)); // all addresses, IPv6 and IPv4
  const { port } = server.address() as { port: number };
  if (hold) return { port, server };
  await new Promise((resolve) => server.close(resolve));
  return { port };
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query('SELECT 1 AS one')).rows[0].one === 1;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const postmasterPid = (dir: string) => readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0];

describe('the embedded PostgreSQL, already running on its data folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-running-'));
  let first: EmbeddedDatabase | undefined;
  afterAll(async () => {
    await first?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is used, not started again, and stopping that handle leaves it running', async () => {
    const { port } = await localPort();
    first = await startEmbeddedPostgres(dir, port);
    expect(first.alreadyRunning).toBe(false);
    const pid = postmasterPid(dir);

    const second = await startEmbeddedPostgres(dir, port);
    expect(second).toMatchObject({ alreadyRunning: true, url: first.url });
    expect(await answers(second.url)).toBe(true);

    await second.stop();
    expect(await answers(first.url)).toBe(true);
    expect(postmasterPid(dir)).toBe(pid);
  }, 60_000);
});

describe('the embedded PostgreSQL, unable to start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-taken-'));
  let server: Server | undefined;
  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a malformed EMBEDDED_PG_PORT, naming the variable', async () => {
    await expect(startEmbeddedPostgres(join(tmpdir(), 'never-created'), 99_999)).rejects.toThrow(EmbeddedPostgresError);
    await expect(startEmbeddedPostgres(join(tmpdir(), 'never-created'), Number('abc'))).rejects.toThrow(/EMBEDDED_PG_PORT must be a port number/);
  });

  it('says in one line what to do when its port is taken', async () => {
    const held = await localPort(true);
    server = held.server;
    const failure = startEmbeddedPostgres(dir, held.port);
    await expect(failure).rejects.toThrow(EmbeddedPostgresError);
    await expect(failure).rejects.toThrow(new RegExp(`port ${held.port} is taken: set EMBEDDED_PG_PORT to a free port`));
    await expect(failure.catch((error: Error) => error.message)).resolves.not.toMatch(/\n/);
  }, 60_000);
});
