import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../../app.module.js';
import type { FlightCounters } from './flight-counters.js';
import type { InstanceCommand, InstanceMessage } from './fleet-instance.js';

const ENTRY = fileURLToPath(new URL('./fleet-instance.ts', import.meta.url));
/** The repository root: where the TypeScript loader finds tsconfig.json and the @app/single-flight alias. */
const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

const START_TIMEOUT_MS = 30_000;
const ANSWER_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * An instance of the app in a child process (fleet-instance.ts), as a fleet runs it: its own
 * event loop, its own connections to PostgreSQL and Redis. Every wait on it is bounded; one that
 * does not close in time is killed.
 */
export class FleetInstanceProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(config: ResolvedConfig): Promise<FleetInstanceProcess> {
    const child = fork(ENTRY, [], {
      cwd: ROOT,
      execArgv: ['--import', '@swc-node/register/esm-register'],
      env: { ...process.env, DEMO_INSTANCE: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const message = await next(child, START_TIMEOUT_MS, 'start');
      if (message.event === 'ready') return new FleetInstanceProcess(child, message.port);
      throw new Error(`an app instance failed to start: ${message.event === 'failed' ? message.message : message.event}`);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  async counters(): Promise<FlightCounters> {
    this.send({ command: 'counters' });
    const message = await next(this.child, ANSWER_TIMEOUT_MS, 'counters');
    if (message.event !== 'counters') throw new Error(`instance ${this.child.pid}: expected its counters, got "${message.event}"`);
    return message.counters;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ command: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS)));
    if ((await Promise.race([exited, late])) === 'late') {
      this.child.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  private send(command: InstanceCommand): void {
    if (this.child.connected) this.child.send(command);
  }
}

/** The child's next message, or a rejection if it exits or stays silent for `ms`. */
function next(child: ChildProcess, ms: number, what: string): Promise<InstanceMessage> {
  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: InstanceMessage) => (cleanUp(), resolve(message));
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => (cleanUp(), reject(new Error(`instance ${child.pid} exited (${signal ?? code}) before its ${what} answer`)));
    const timer = setTimeout(() => (cleanUp(), reject(new Error(`instance ${child.pid}: no ${what} answer within ${ms} ms`))), ms);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
