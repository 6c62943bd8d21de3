// The incidents app as `npm start` runs it, one child process per instance. Its output goes to a
// log file (not the console); lines that tell what the library did are also tapped, with the
// time they arrived, so a phase can say when a circuit opened or closed and how many
// invalidations were lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = new URL('..', import.meta.url).pathname;
/** Where the app is run from: this checkout, or another (an older commit, to compare libraries). */
export const APP_DIR = process.env.CHAOS_APP_DIR ?? REPO_ROOT;

export type AppEventKind = 'circuit-open' | 'circuit-closed' | 'invalidation-queued' | 'invalidation-drained' | 'invalidation-lost' | 'store-failure' | 'error';

/**
 * Library and app log lines worth counting; the rest only go to the file. The library is being
 * changed: both its older wording (an invalidation the store did not take is lost) and the newer
 * one (kept and retried, then written) are matched.
 */
const TAPS: [AppEventKind, RegExp][] = [
  ['circuit-open', /circuit open/],
  ['circuit-closed', /circuit closed/],
  ['invalidation-queued', /invalidation.* not written: .*Kept and retried/],
  ['invalidation-drained', /Queued cache invalidations written, \d+ ms/],
  ['invalidation-lost', /Could not write invalidation|never written|tags wait for their invalidation/],
  ['store-failure', /Cache \S+ failed on store/],
  ['error', /\bERROR\b/],
];

export interface AppEvent {
  t: number;
  kind: AppEventKind;
  line: string;
}

export interface Health {
  /** HTTP 200: the app answers and its database check passed. */
  up: boolean;
  /** Up, and the cache answered its ping (the app reports a dead cache as `degraded`, still 200). */
  healthy: boolean;
}

const TAIL_LINES = 30;

export class AppInstance {
  private child?: ChildProcess;
  private log?: WriteStream;
  private stopping = false;
  private exited?: Promise<void>;
  readonly events: AppEvent[] = [];
  private readonly tail: string[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
    readonly logPath: string,
    /** Called once if the child ends while nobody asked it to. */
    private readonly onUnexpectedExit: (app: AppInstance, code: number | null, signal: string | null) => void,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get lastLines(): string[] {
    return [...this.tail];
  }

  start(env: Record<string, string>): void {
    this.log = createWriteStream(this.logPath, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'apps/incidents/src/main.ts'], {
      cwd: APP_DIR,
      // NO_COLOR: plain log lines, so the taps match and the files read well.
      env: { ...process.env, ...env, PORT: String(this.port), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    child.once('exit', (code, signal) => {
      this.log?.end();
      if (!this.stopping) this.onUnexpectedExit(this, code, signal);
    });
  }

  private onLine(line: string): void {
    this.log?.write(`${line}\n`);
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    const t = performance.now();
    for (const [kind, pattern] of TAPS) if (pattern.test(line)) this.events.push({ t, kind, line });
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async health(timeoutMs = 1_000): Promise<Health> {
    try {
      const response = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await response.json().catch(() => ({}))) as { info?: { cache?: { degraded?: boolean } } };
      const up = response.status === 200;
      return { up, healthy: up && body.info?.cache?.degraded === false };
    } catch {
      return { up: false, healthy: false };
    }
  }

  /** Until /health says healthy; throws after `timeoutMs` or if the child dies meanwhile. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`${this.name} exited before it was healthy; see ${this.logPath}`);
      if ((await this.health()).healthy) return;
      await sleep(200);
    }
    throw new Error(`${this.name} not healthy within ${timeoutMs} ms; see ${this.logPath}`);
  }

  /** SIGTERM (the app has shutdown hooks), SIGKILL if it is still there after `graceMs`. By PID only. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    if (!this.alive) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child!.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now, synchronously: for the process 'exit' handler, where nothing async runs. */
  killNow(): void {
    this.stopping = true;
    if (this.alive) this.child!.kill('SIGKILL');
  }

  /** Events of `kind` that arrived in [from, to). */
  eventsBetween(kind: AppEventKind, from: number, to: number): AppEvent[] {
    return this.events.filter((e) => e.kind === kind && e.t >= from && e.t < to);
  }
}
