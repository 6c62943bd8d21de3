// The measurements of bench/peers.bench.ts: cold-key bursts, a failing loader, warm hits.
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Loader, Row } from './loader.js';
import { commandCalls, delta, type CommandCounts } from './redis-stats.js';

/** After a burst, what its last caller's answer did not wait for (a write, a PUBLISH) lands before the counts are read. */
const SETTLE_MS = 60;

/** Rejects after `ms`, naming `what`: every wait here is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A fresh key: its own namespace per strategy and round. */
export function freshKey(strategy: string, what: string): string {
  return `${strategy}:${what}:${randomUUID()}`;
}

export interface BurstResult {
  n: number;
  loaderCalls: number;
  commands: CommandCounts;
  /** ms from the burst's start (before the first call) to each caller's answer or error. */
  latencies: Float64Array;
  errors: number;
  firstError?: string;
  /** Callers whose `at` is a Date. */
  dates: number;
  /** Callers whose `note` (text that looks like a timestamp) is still a string. */
  strings: number;
  /** Distinct objects handed to the callers. */
  distinct: number;
  /** Callers whose value is frozen. */
  frozen: number;
  ms: number;
}

/** `n` callers of `read(key)` on one cold key, all started in one synchronous loop (the same tick). */
export async function burst(read: (key: string) => Promise<Row>, key: string, n: number, loader: Loader, stats: Redis, timeoutMs: number): Promise<BurstResult> {
  const before = await commandCalls(stats);
  loader.calls = 0;
  const latencies = new Float64Array(n);
  const values = new Array<Row | undefined>(n);
  let errors = 0;
  let firstError: string | undefined;
  const calls = new Array<Promise<void>>(n);
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    let call: Promise<Row>;
    try {
      call = read(key);
    } catch (error) {
      call = Promise.reject(error);
    }
    calls[i] = call.then(
      (value) => void ((latencies[i] = performance.now() - started), (values[i] = value)),
      (error: unknown) => void ((latencies[i] = performance.now() - started), errors++, (firstError ??= error instanceof Error ? error.message : String(error))),
    );
  }
  await within(Promise.all(calls), timeoutMs, `burst of ${n}`);
  const ms = performance.now() - started;
  const loaderCalls = loader.calls;
  await sleep(SETTLE_MS);
  const commands = delta(before, await commandCalls(stats));
  let dates = 0;
  let strings = 0;
  let frozen = 0;
  const distinct = new Set<unknown>();
  for (const value of values) {
    if (!value) continue;
    distinct.add(value);
    if (value.at instanceof Date) dates++;
    if (typeof value.note === 'string') strings++;
    if (Object.isFrozen(value)) frozen++;
  }
  return { n, loaderCalls, commands, latencies, errors, firstError, dates, strings, distinct: distinct.size, frozen, ms };
}

export interface WarmResult {
  hits: number;
  perSecond: number;
  /** Redis commands per hit (server side). */
  commandsPerHit: number;
  loaderCalls: number;
  /** `at` of the last hit is a Date; else what it is. */
  date: boolean;
  atType: string;
  /** `note` (ISO text) of the last hit is still a string. */
  string: boolean;
}

/** Sequential awaited reads of one warm key for `ms` (at most `maxHits`), after `warmupMs` of the same. */
export async function warmHits(read: (key: string) => Promise<Row>, key: string, ms: number, warmupMs: number, maxHits: number, loader: Loader, stats: Redis): Promise<WarmResult> {
  await read(key); // the miss that fills the cache
  await sleep(SETTLE_MS);
  for (const until = performance.now() + warmupMs; performance.now() < until; ) await read(key);
  const before = await commandCalls(stats);
  loader.calls = 0;
  let hits = 0;
  let last: Row | undefined;
  const started = performance.now();
  const until = started + ms;
  while (hits < maxHits && performance.now() < until) {
    last = await read(key);
    hits++;
  }
  const elapsed = performance.now() - started;
  const loaderCalls = loader.calls;
  const commands = delta(before, await commandCalls(stats));
  const total = [...commands.values()].reduce((a, b) => a + b, 0);
  return {
    hits,
    perSecond: (hits * 1000) / elapsed,
    commandsPerHit: total / hits,
    loaderCalls,
    date: last?.at instanceof Date,
    atType: last?.at instanceof Date ? 'Date' : typeof last?.at,
    string: typeof last?.note === 'string',
  };
}

