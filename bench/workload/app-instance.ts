// One instance of the app as a child process: `node --import <register> --import query-log.ts
// apps/incidents/src/main.ts`, run from the app's root (this repository or WORKLOAD_APP_ROOT),
// with the query log's batches arriving over fork()'s IPC channel.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueryLog } from './duplicates.js';
import type { QueryLogCommand, QueryLogMessage } from './query-log.js';

/** The preload, always this repository's (the bench's code), whichever app root runs. */
export const QUERY_LOG_PRELOAD = new URL('./query-log.ts', import.meta.url).href;
const OUTPUT_LINES = 40;

export interface InstanceOptions {
  name: string;
  appRoot: string;
  port: number;
  env: Record<string, string>;
  queryLog: QueryLog;
}

export class AppInstance {
  readonly name: string;
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private readonly exited: Promise<void>;
  private exit?: string;
  private nextFlush = 0;
  private readonly flushes = new Map<number, () => void>();

  constructor({ name, appRoot, port, env, queryLog }: InstanceOptions) {
    this.name = name;
    this.port = port;
    this.child = fork(join(appRoot, 'apps/incidents/src/main.ts'), [], {
      cwd: appRoot, // where the loader finds tsconfig.json (the @app/single-flight alias) and node_modules
      execArgv: ['--import', '@swc-node/register/esm-register', '--import', QUERY_LOG_PRELOAD],
      env: { ...process.env, NO_COLOR: '1', ...env, PORT: String(port), WORKLOAD_QUERY_LOG: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.output.push(line.slice(0, 400));
      this.output.splice(0, Math.max(0, this.output.length - OUTPUT_LINES));
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('message', (message: QueryLogMessage) => {
      if (message.type === 'workload:queries') queryLog.add(message.pid, message.records, message.shapes);
      else if (message.type === 'workload:flushed') this.flushes.get(message.id)?.();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = signal ?? `code ${code}`;
        for (const done of this.flushes.values()) done();
        resolve();
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The last lines the instance wrote (for an error message). */
  lastOutput(): string {
    return this.output.map((line) => `    ${this.name}| ${line}`).join('\n');
  }

  /** Polls GET /health until it answers 200; throws (with the instance's last output) past `timeoutMs` or if it exits. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.exit) throw new Error(`instance ${this.name} exited (${this.exit}) before it was healthy:\n${this.lastOutput()}`);
      const ok = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => (void r.body?.cancel(), r.ok),
        () => false,
      );
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`instance ${this.name} not healthy within ${timeoutMs} ms:\n${this.lastOutput()}`);
  }

  /** Asks the preload to send what it recorded; resolves once it arrived (or after `timeoutMs`). */
  async flushQueryLog(timeoutMs = 5_000): Promise<void> {
    if (this.exit || !this.child.connected) return;
    const id = ++this.nextFlush;
    const flushed = new Promise<void>((resolve) => this.flushes.set(id, resolve));
    this.child.send({ type: 'workload:flush', id } satisfies QueryLogCommand);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([flushed.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
    clearTimeout(timer);
    this.flushes.delete(id);
    if (timedOut) throw new Error(`instance ${this.name}: query log not flushed within ${timeoutMs} ms`);
  }

  /** SIGTERM (the app closes itself: enableShutdownHooks), then SIGKILL of this pid if it is still there after `graceMs`. */
  async stop(graceMs = 8_000): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** For process 'exit': no waiting possible there. */
  killNow(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }
}
