// One application process of bench/fleet.bench.ts: a Nest application context with a Keyv Redis
// store and SingleFlightModule on the bench's private redis-server, driven over IPC.
// Started by fleet.bench.ts (fork, config in FLEET_BENCH); not meant to be run by hand.
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cached, SingleFlight } from '@app/single-flight';
import { CachedExecutor } from '../libs/single-flight/src/cached-executor.js';
import { benchApp, incidentPage, redisKeyv } from './support.js';

export interface WorkerConfig {
  redisUrl: string;
  namespace: string;
  keyPrefix: string;
  loadMs: number;
}

/** Parent to worker. `at`: Date.now() at which the burst starts, the same for every worker. */
export type WorkerCommand = { command: 'burst'; id: number; key: string; distributed: boolean; callers: number; at: number } | { command: 'close'; id: number };

export interface BurstReport {
  loads: number;
  /** ms from each caller's call to its answer. */
  latencies: number[];
  errors: number;
  /** How late (ms) the burst started after `at` (a busy machine). */
  lateBy: number;
}

/** Worker to parent. */
export type WorkerMessage = { event: 'ready' } | { event: 'fatal'; message: string } | { id: number; ok: true; value: BurstReport | null } | { id: number; ok: false; message: string };

if (!process.send) throw new Error('fleet-worker needs an IPC channel: it is forked by bench/fleet.bench.ts');
const config = JSON.parse(process.env.FLEET_BENCH ?? 'null') as WorkerConfig | null;
if (!config?.redisUrl || !config.namespace || !config.keyPrefix) throw new Error('fleet-worker: FLEET_BENCH must hold { redisUrl, namespace, keyPrefix, loadMs }');
const send = (message: WorkerMessage, then: () => void = () => {}) => (process.connected ? process.send!(message, then) : undefined);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
// An orphan would keep its Redis connections: leave with the parent.
process.on('disconnect', () => process.exit(0));

let loads = 0;
/** The simulated database query. */
async function query() {
  loads++;
  await sleep(config!.loadMs);
  return incidentPage();
}

@Injectable()
class Pages {
  @Cached()
  @SingleFlight({ distributed: true })
  fleetWide(key: string) {
    return query();
  }

  @Cached()
  @SingleFlight({ distributed: false })
  perProcess(key: string) {
    return query();
  }
}

const app = await benchApp([Pages], [redisKeyv(config.namespace, config.redisUrl)], {
  redis: config.redisUrl,
  keyPrefix: config.keyPrefix,
  ttl: 120_000,
  lease: 5_000,
}).catch((error: unknown) => {
  send({ event: 'fatal', message: messageOf(error) }, () => process.exit(1));
  return new Promise<never>(() => {});
});
const pages = app.get(Pages);
const executor = app.get(CachedExecutor);

// Ready once the bus is subscribed and the command connection is up (bounded).
for (let waited = 0; !(executor.fleet?.bus.connected && executor.fleet.link.ready); waited += 20) {
  if (waited > 10_000) {
    send({ event: 'fatal', message: 'Redis link or bus not ready after 10 s' }, () => process.exit(1));
    await new Promise<never>(() => {});
  }
  await sleep(20);
}

async function burst(key: string, distributed: boolean, callers: number, at: number): Promise<BurstReport> {
  const wait = at - Date.now();
  if (wait > 0) await sleep(wait);
  const lateBy = Math.max(0, Date.now() - at);
  loads = 0;
  const latencies = new Array<number>(callers);
  let errors = 0;
  const calls: Promise<void>[] = [];
  for (let i = 0; i < callers; i++) {
    const started = performance.now();
    const call = distributed ? pages.fleetWide(key) : pages.perProcess(key);
    calls.push(
      call.then(
        () => void (latencies[i] = performance.now() - started),
        () => void ((latencies[i] = performance.now() - started), errors++),
      ),
    );
  }
  await Promise.all(calls);
  return { loads, latencies, errors, lateBy };
}

process.on('message', (request: WorkerCommand) => {
  const run = request.command === 'burst' ? burst(request.key, request.distributed, request.callers, request.at) : app.close().then(() => null);
  run.then(
    (value) => send({ id: request.id, ok: true, value }, request.command === 'close' ? () => process.exit(0) : undefined),
    (error: unknown) => send({ id: request.id, ok: false, message: messageOf(error) }),
  );
});
send({ event: 'ready' });
