// A redis-server of a test's own: faults (SIGKILL, SIGSTOP, SIGCONT, restarts) go to this PID only,
// never to the shared Redis on 6379 that other tests use.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** REDIS_SERVER_BIN, else `redis-server` on the PATH; undefined when there is none (tests that need it are skipped, saying so). */
export const REDIS_BIN: string | undefined = process.env.REDIS_SERVER_BIN || onPath('redis-server');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
/** A free TCP port on 127.0.0.1 for a private server (never a shared one's: see SHARED_PORTS). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  if (SHARED_PORTS.has(port)) return freePort();
  return port;
}

/** The shared servers: refusing them here makes a mistake in port selection harmless. */
const SHARED_PORTS = new Set([6379, 5432]);
const START_TIMEOUT_MS = 10_000;

export class PrivateRedis {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  /** SIGSTOPped and not yet SIGCONTed: cleanup must still be able to kill it (SIGKILL works on a stopped process). */
  paused = false;
  /** Whether the running server writes an AOF. */
  persistent = false;

  constructor(
    readonly port: number,
    /** Its own temp directory (--dir): the AOF lives here and nowhere else. */
    readonly dataDir: string,
    private readonly logPath: string,
  ) {
    if (SHARED_PORTS.has(port)) throw new Error(`refusing to run a private redis on the shared port ${port}`);
    mkdirSync(dataDir, { recursive: true });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** `persist`: AOF fsynced on every write, so a SIGKILL loses nothing that was acknowledged. */
  async start({ persist }: { persist: boolean }): Promise<void> {
    if (this.running) throw new Error('private redis already running');
    // --save "": no RDB snapshots, so the only persistence is the AOF chosen here (no forks to reap).
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dataDir, '--save', '', '--daemonize', 'no', '--appendonly', persist ? 'yes' : 'no'];
    // No automatic rewrite: a rewrite forks a child that a SIGKILL of the parent would leave behind.
    if (persist) args.push('--appendfsync', 'always', '--auto-aof-rewrite-percentage', '0');
    const log = createWriteStream(this.logPath, { flags: 'a' });
    log.write(`\n--- starting redis-server ${args.join(' ')}\n`);
    if (!REDIS_BIN) throw new Error('no redis-server: install Redis, or set REDIS_SERVER_BIN to its path');
    const child = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.child = child;
    this.paused = false;
    this.persistent = persist;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined); // spawn failure shows as the exit below
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`private redis exited at start (code ${child.exitCode}, signal ${child.signalCode}); see ${this.logPath}`);
      if (await this.ping(300)) return;
      await sleep(50);
    }
    throw new Error(`private redis on ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms; see ${this.logPath}`);
  }

  /** SIGKILL: no shutdown save, no goodbye to clients; what survives is what the AOF had fsynced. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
    this.paused = false;
  }

  pause(): void {
    if (!this.running) throw new Error('private redis is not running');
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.running) return;
    this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /** Empties the data directory (server stopped): a restart without persistence must not load an old AOF. */
  wipe(): void {
    if (this.running) throw new Error('wipe while running');
    for (const name of readdirSync(this.dataDir)) rmSync(join(this.dataDir, name), { recursive: true, force: true });
  }

  /** Kill and remove the data directory; safe to call twice, and on a paused server. */
  async destroy(): Promise<void> {
    await this.kill().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A raw RESP PING over its own socket (no client library retries or queues to hide a stall). */
  ping(timeoutMs = 500): Promise<boolean> {
    return this.command(['PING'], timeoutMs).then((reply) => reply.startsWith('+PONG'), () => false);
  }

  /** DBSIZE and the number of keys matching `*pattern*` (SCAN, fine for a few thousand keys). */
  async countKeys(pattern: string): Promise<{ total: number; matching: number }> {
    const total = Number.parseInt((await this.command(['DBSIZE'], 2_000)).slice(1), 10);
    let matching = 0;
    let cursor = '0';
    for (let round = 0; round < 1_000; round++) {
      const reply = await this.command(['SCAN', cursor, 'MATCH', `*${pattern}*`, 'COUNT', '1000'], 2_000);
      // *2\r\n$<n>\r\n<cursor>\r\n*<k>\r\n...: the cursor is the 3rd line, the count of keys the 4th.
      const lines = reply.split('\r\n');
      cursor = lines[2];
      matching += Number(lines[3].slice(1));
      if (cursor === '0') break;
    }
    return { total, matching };
  }

  /** One command, the whole reply as text (small replies only). */
  private command(parts: string[], timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      let reply = '';
      const done = (error?: Error) => {
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(reply);
      };
      const timer = setTimeout(() => done(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      socket.on('error', done);
      socket.on('connect', () => socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`));
      socket.on('data', (chunk) => {
        reply += chunk.toString('utf8');
        if (complete(reply)) done();
      });
    });
  }
}

/** Whether a RESP reply has fully arrived: enough for PING, DBSIZE and SCAN. */
function complete(reply: string): boolean {
  if (!reply.endsWith('\r\n')) return false;
  if (reply[0] !== '*') return true;
  const lines = reply.split('\r\n');
  // SCAN: *2, $len, cursor, *k, then k pairs of ($len, key) lines.
  if (lines.length < 5) return false;
  const keys = Number(lines[3].slice(1));
  return lines.length >= 5 + keys * 2;
}
