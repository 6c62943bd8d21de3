// The bench's own PostgreSQL database: created, seeded by the app's own seed script (the checkout
// under test: its migrations, its deterministic rows), read back for the driver, dropped.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { SEVERITIES, STATUSES, type Incident, type Severity, type Status } from './workload-mix.js';

export class BenchDatabase {
  readonly url: string;

  constructor(
    /** A URL of the server's maintenance database (`postgres`), for CREATE and DROP. */
    private readonly adminUrl: string,
    readonly name: string,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name "${name}": lowercase letters, digits and _ only`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    this.url = url.toString();
  }

  private async admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  create(): Promise<void> {
    return this.admin(async (c) => void (await c.query(`CREATE DATABASE "${this.name}"`)));
  }

  /** FORCE: an instance that did not exit cleanly must not keep the database alive. */
  drop(): Promise<void> {
    return this.admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`)));
  }

  async serverVersion(): Promise<string> {
    return this.admin(async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? 'unknown');
  }

  /**
   * `npm run seed -- --count N` of the app under test (TRUNCATE, then its deterministic rows; its
   * migrations first), bounded in time. The seed clears that app's cache keys under `env`'s prefix.
   */
  seed(appRoot: string, count: number, env: Record<string, string>, timeoutMs = 120_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', join(appRoot, 'apps/incidents/src/scripts/seed.ts'), '--count', String(count)], {
        cwd: appRoot,
        env: { ...process.env, NO_COLOR: '1', ...env, DATABASE_URL: this.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4_000));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`seed exited (${signal ?? `code ${code}`}):\n${output}`));
      });
    });
  }

  /** Every incident with what the driver checks, and the namespaces in use. */
  async incidents(): Promise<{ incidents: Incident[]; namespaces: string[] }> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; namespace: string; severity: Severity; status: Status; title: string; created_at: Date }>(
        'SELECT id, namespace, severity, status, title, created_at FROM incident_events',
      );
      const incidents = rows.map((r) => ({ id: r.id, namespace: r.namespace, severity: r.severity, status: r.status, title: r.title, createdAt: r.created_at.getTime() }));
      for (const i of incidents) if (!SEVERITIES.includes(i.severity) || !STATUSES.includes(i.status)) throw new Error(`incident ${i.id}: unknown severity or status`);
      return { incidents, namespaces: [...new Set(incidents.map((i) => i.namespace))].sort() };
    } finally {
      await client.end();
    }
  }
}
