// Real Nest application processes sharing the real Redis (or a private redis-server for the cache,
// with the loader's "database" still on the shared one: `redisUrl`, `dbUrl`), for guarantees that
// must hold "in every process". Each is fleet-child.ts, driven over IPC; every wait here is bounded.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  BurstOutcome,
  EvictLoopOutcome,
  FleetAnswers,
  FleetCommand,
  FleetConfig,
  FleetEvent,
  FleetJobOutcomes,
  FleetMethod,
  FleetReply,
  Item,
  LoaderSettings,
  LeaseEvent,
  LoadEvent,
  ReadLoopOutcome,
} from './fleet-child.js';
import { REDIS_URL } from './redis-cache.js';

export type { BurstOutcome, EvictLoopOutcome, FleetMethod, Item as FleetItem, LeaseEvent, LoaderSettings, LoadEvent as FleetLoadEvent, ReadLoopOutcome } from './fleet-child.js';

export interface FleetProcessOptions {
  namespace: string;
  layout?: 'redis' | 'memory+redis';
  keyPrefix?: string;
  moduleOptions?: Record<string, unknown>;
  /** The cache store's Redis; default REDIS_URL (the shared one). */
  redisUrl?: string;
  /** The loader's "database"; default REDIS_URL, whatever the cache's Redis is. */
  dbUrl?: string;
}

export interface FleetProcess {
  readonly pid: number;
  /** Resolves once the call has started in the child; `result` settles with its outcome. */
  call(key: string): Promise<{ callId: number; result: Promise<Item> }>;
  /** Resolves once the update has started; `done` resolves after its @CacheEvict call resolved. */
  update(key: string): Promise<{ updateId: number; done: Promise<number> }>;
  /** Whether loads that start from now on wait for `release`. */
  hold(on: boolean): Promise<void>;
  release(loadId: number | 'all'): Promise<void>;
  /** Every load started so far, in order. */
  loadEvents(): LoadEvent[];
  /** Every lease request of a fleet-wide flight answered so far, in order (children with `redis`). */
  leaseEvents(): LeaseEvent[];
  waitForLoads(count: number, timeoutMs?: number): Promise<void>;
  /** Deletes the entry of `Items.get(key)` from every store of the child's cache; resolves with its key. */
  expire(key: string): Promise<string>;
  /** Loads so far, calls so far, and entries written to the shared store (tag tokens not counted). */
  stats(): Promise<{ loads: number; calls: number; entryWrites: number }>;
  /** How loads from now on behave: slow (`delayMs`), or the first in the fleet hanging until its process dies (`hangFirst`). */
  loader(settings: LoaderSettings): Promise<void>;
  /**
   * `count` calls of each key, all started on receipt (or spread over `spreadMs`); resolves once
   * they started (when not spread), `outcome` once every one settled (bounded by `timeoutMs`).
   */
  burst(options: { keys: string[]; count: number; method?: FleetMethod; spreadMs?: number; timeoutMs?: number }): Promise<{ outcome: Promise<BurstOutcome> }>;
  /** Reads `key` one call after another until stopped, recording per version when its reads started. */
  readLoop(key: string, method?: FleetMethod): Promise<void>;
  /** Stops the read loop once it has read `untilVersion` (or after `timeoutMs`); what it read. */
  stopReadLoop(options?: { untilVersion?: number; timeoutMs?: number }): Promise<ReadLoopOutcome>;
  /** `count` updates of `key` in the child, one after another, `gapMs` apart; `outcome`: when each resolved. */
  evictLoop(options: { key: string; count: number; gapMs: number; timeoutMs?: number }): Promise<{ outcome: Promise<EvictLoopOutcome> }>;
  /** The executor's fleet state: bus subscribed, command connection ready, local tier size. */
  status(): Promise<FleetAnswers['status']>;
  /** Waits (bounded) until the bus is subscribed and the command connection ready: they connect after start. */
  waitForFleet(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  /** SIGKILL: no shutdown, no goodbye; resolves once it exited. */
  kill(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./fleet-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const TIMEOUT_MS = 10_000;

interface Pending<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: string): void;
}

class FleetChild implements FleetProcess {
  readonly pid: number;
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private gone?: string;
  private nextId = 0;
  private readonly pending = new Set<Pending<unknown>>();
  private readonly replies = new Map<number, Pending<unknown>>();
  private readonly results = new Map<number, Pending<Item>>();
  private readonly updates = new Map<number, Pending<number>>();
  private readonly jobs = new Map<number, Pending<unknown>>();
  private readonly loads: LoadEvent[] = [];
  private readonly leases: LeaseEvent[] = [];
  private readonly loadWatchers = new Set<() => void>();
  private readonly started: Pending<void>;

  constructor(config: FleetConfig) {
    this.child = fork(CHILD, [], {
      cwd: ROOT, // where the loader finds tsconfig.json and its path alias
      execArgv: ['--import', '@swc-node/register/esm-register'],
      env: { ...process.env, FLEET_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.pid = this.child.pid ?? -1;
    // A test that forgets close() must not keep Jest alive; its child leaves when the channel closes.
    this.child.unref();
    this.child.channel?.unref();
    this.started = this.track(`start (namespace ${config.namespace}, layout ${config.layout})`, START_TIMEOUT_MS);
    this.ready = this.started.promise;
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.gone = `exited with ${signal ?? `code ${code}`}`;
        for (const pending of this.pending) pending.reject(this.gone);
        resolve();
      }),
    );
    this.child.on('message', (message: FleetReply | FleetEvent) => this.receive(message));
  }

  async call(key: string) {
    const { started: callId } = await this.request({ command: 'call', key });
    return { callId, result: this.outcome(this.results, callId, `result of call ${callId} (${key})`).promise };
  }

  async update(key: string) {
    const { started: updateId } = await this.request({ command: 'update', key });
    return { updateId, done: this.outcome(this.updates, updateId, `update ${updateId} (${key})`).promise };
  }

  async hold(on: boolean) {
    await this.request({ command: 'hold', on });
  }

  async release(loadId: number | 'all') {
    await this.request({ command: 'release', loadId });
  }

  loadEvents() {
    return [...this.loads];
  }

  leaseEvents() {
    return [...this.leases];
  }

  async waitForLoads(count: number, timeoutMs = TIMEOUT_MS) {
    const wait = this.track<void>(() => `waitForLoads(${count}), ${this.loads.length} so far`, timeoutMs);
    const check = () => this.loads.length >= count && wait.resolve();
    this.loadWatchers.add(check);
    check();
    await wait.promise.finally(() => this.loadWatchers.delete(check));
  }

  async expire(key: string) {
    return (await this.request({ command: 'expire', key })).cacheKey;
  }

  stats() {
    return this.request({ command: 'stats' });
  }

  async loader(settings: LoaderSettings) {
    await this.request({ command: 'loader', settings });
  }

  async burst({ timeoutMs = TIMEOUT_MS, ...options }: { keys: string[]; count: number; method?: FleetMethod; spreadMs?: number; timeoutMs?: number }) {
    return { outcome: this.job<'burst'>(await this.request({ command: 'burst', ...options }), `burst of ${options.count} x ${options.keys.join(', ')}`, timeoutMs) };
  }

  async readLoop(key: string, method?: FleetMethod) {
    await this.request({ command: 'readLoop', key, method });
  }

  stopReadLoop(options: { untilVersion?: number; timeoutMs?: number } = {}) {
    return this.request({ command: 'stopReadLoop', ...options });
  }

  async evictLoop({ timeoutMs = TIMEOUT_MS, ...options }: { key: string; count: number; gapMs: number; timeoutMs?: number }) {
    return { outcome: this.job<'evictLoop'>(await this.request({ command: 'evictLoop', ...options }), `evict loop of ${options.count} x ${options.key}`, timeoutMs) };
  }

  status() {
    return this.request({ command: 'status' });
  }

  async waitForFleet(timeoutMs = TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (status.busConnected && status.linkReady) return;
      if (Date.now() > deadline) throw new Error(`fleet child ${this.pid}: bus or Redis link not up within ${timeoutMs} ms: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close() {
    if (this.gone) return;
    this.child.ref(); // its exit is what we wait for now: keep the event loop alive for it
    const failure = await this.request({ command: 'close' }).then(
      () => undefined,
      (error: Error) => error,
    );
    if (failure && !this.gone) this.child.kill('SIGKILL');
    await this.exited;
    if (failure && this.child.exitCode !== 0) throw failure;
  }

  /** Kills the child without ceremony, e.g. when it failed to start. */
  async kill() {
    this.child.ref();
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private request<C extends FleetCommand['command']>(command: Extract<FleetCommand, { command: C }>): Promise<FleetAnswers[C]> {
    const reply = this.track<FleetAnswers[C]>(`'${command.command}'`);
    if (this.gone) {
      reply.reject(this.gone);
      return reply.promise;
    }
    const id = ++this.nextId;
    this.replies.set(id, reply as Pending<unknown>);
    this.child.send({ ...command, id }, (error) => error && reply.reject(error.message));
    return reply.promise;
  }

  /** The pending outcome of a call, update or job: its event may arrive before or after the answer. */
  private outcome<T>(outcomes: Map<number, Pending<T>>, id: number, what: string, timeoutMs = TIMEOUT_MS): Pending<T> {
    let pending = outcomes.get(id);
    if (!pending) outcomes.set(id, (pending = this.track<T>(what, timeoutMs)));
    return pending;
  }

  private job<K extends keyof FleetJobOutcomes>({ job }: { job: number }, what: string, timeoutMs: number): Promise<FleetJobOutcomes[K]> {
    return this.outcome(this.jobs, job, what, timeoutMs).promise as Promise<FleetJobOutcomes[K]>;
  }

  private receive(message: FleetReply | FleetEvent) {
    if ('id' in message) {
      const reply = this.replies.get(message.id);
      this.replies.delete(message.id);
      return message.ok ? reply?.resolve(message.value) : reply?.reject(message.message);
    }
    switch (message.event) {
      case 'ready':
        return this.started.resolve();
      case 'fatal':
        return this.started.reject(message.message);
      case 'load':
        this.loads.push({ loadId: message.loadId, key: message.key, version: message.version });
        return this.loadWatchers.forEach((check) => check());
      case 'lease':
        return void this.leases.push({ lease: message.lease, taken: message.taken });
      case 'result':
        return this.outcome(this.results, message.callId, `result of call ${message.callId}`).resolve(message.value);
      case 'updated':
        return this.outcome(this.updates, message.updateId, `update ${message.updateId}`).resolve(message.version);
      case 'job':
        return message.ok
          ? this.outcome(this.jobs, message.job, `job ${message.job}`).resolve(message.value)
          : this.outcome(this.jobs, message.job, `job ${message.job}`).reject(message.message);
      case 'error':
        return 'callId' in message
          ? this.outcome(this.results, message.callId, `result of call ${message.callId}`).reject(message.message)
          : this.outcome(this.updates, message.updateId, `update ${message.updateId}`).reject(message.message);
    }
  }

  /** A promise settled from outside, or rejected after `timeoutMs`, or when the child exits. */
  private track<T>(what: string | (() => string), timeoutMs = TIMEOUT_MS): Pending<T> {
    let settle!: (outcome: { value: T } | { reason: string }) => void;
    const promise = new Promise<T>((resolve, reject) => {
      settle = (outcome) => {
        if (!this.pending.delete(pending as Pending<unknown>)) return;
        clearTimeout(timer);
        if ('value' in outcome) resolve(outcome.value);
        else reject(new Error(`fleet child ${this.pid}: ${typeof what === 'string' ? what : what()}: ${outcome.reason}`));
      };
    });
    // Nobody need await a result they don't care about: its failure is not an unhandled rejection.
    promise.catch(() => undefined);
    const pending: Pending<T> = { promise, resolve: (value) => settle({ value }), reject: (reason) => settle({ reason }) };
    const timer = setTimeout(() => pending.reject(`no answer within ${timeoutMs} ms`), timeoutMs);
    this.pending.add(pending as Pending<unknown>);
    return pending;
  }
}

/** Starts one application process; resolves once its application context is initialised. */
export async function startFleetProcess({ namespace, layout = 'redis', keyPrefix, moduleOptions, redisUrl = REDIS_URL, dbUrl = REDIS_URL }: FleetProcessOptions): Promise<FleetProcess> {
  const child = new FleetChild({ namespace, layout, keyPrefix, moduleOptions, redisUrl, dbUrl });
  try {
    await child.ready;
  } catch (error) {
    await child.kill();
    throw error;
  }
  return child;
}

