// This library and its peers, side by side in one run, on the same PostgreSQL and the same
// private redis-server (so INFO commandstats counts only this benchmark):
//   no cache · hand-written get/query/set on ioredis · cache-manager 7 wrap (Keyv, Redis) ·
//   bentocache L1 memory + L2 Redis + bus · bentocache L2 only · @type-cacheable/core @Cacheable ·
//   @Cached + @SingleFlight: copy mode, freeze: true, local tier, fleet-wide (distributed: true).
// Per strategy, one after another: cold-key bursts of N = 10, 100, 1,000, 10,000 callers (loader
// calls, Redis reads/writes/commands from INFO commandstats deltas, p50/p99), whether callers get
// Dates back, a failing loader under 100 callers, warm hits per second. Prints markdown tables;
// writes docs/plots/peers-p99.svg and docs/plots/peers-loader-calls.svg.
// npm run bench:peers            (the full run, about 1 min 40 s on 2 cores)
// PEERS_QUICK=1 npm run bench:peers   (a smoke run: N up to 1,000, shorter timing; plots to a temp dir)
// PEERS_ONLY=sf-copy,bentocache-l2    (some strategies only, by id)
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, PrivateRedis, REDIS_BIN } from '../libs/single-flight/test/support/private-redis.js';
import { bentoL2, bentoTwoTier } from './peers/bentocache.js';
import { cacheManagerWrap } from './peers/cache-manager-wrap.js';
import { handWritten } from './peers/hand-written.js';
import { Loader, POOL_SIZE, QUERY_MS } from './peers/loader.js';
import { machine } from './peers/machine.js';
import { burst, freshKey, warmHits, within, type BurstResult } from './peers/measure.js';
import { noCache } from './peers/no-cache.js';
import { burstTable, failureAndHitTable, typesTable, writePlots, type StrategyResult } from './peers/report.js';
import { singleFlightCopy, singleFlightFleet, singleFlightFreeze, singleFlightLocal } from './peers/single-flight.js';
import type { PeerContext, Strategy } from './peers/strategy.js';
import { typeCacheable } from './peers/type-cacheable.js';

const QUICK = process.env.PEERS_QUICK === '1';
const SIZES = QUICK ? [10, 100, 1_000] : [10, 100, 1_000, 10_000];
/** Counted rounds per burst size (a fresh key each): p99 over the callers of all of them. */
const ROUNDS: Record<number, number> = QUICK ? { 10: 2, 100: 2, 1_000: 2 } : { 10: 5, 100: 5, 1_000: 3, 10_000: 3 };
/** No further round of a size once its rounds took this long: an uncoalesced burst of 10,000 takes ~21 s alone. */
const ROUND_BUDGET_MS = QUICK ? 3_000 : 15_000;
const FAILING_CALLERS = 100;
const WARM_MS = QUICK ? 250 : 1_000;
const WARM_WARMUP_MS = QUICK ? 50 : 200;
const WARM_MAX_HITS = 2_000_000;
/** A burst of 10,000 uncoalesced queries on a pool of 10 takes ~20 s here: this bounds a stuck one. */
const BURST_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PLOTS_DIR = process.env.PEERS_PLOTS_DIR ?? (QUICK ? join(tmpdir(), 'peers-quick-plots') : join(ROOT, 'docs/plots'));

const ALL: Strategy[] = [noCache, handWritten, cacheManagerWrap, bentoTwoTier, bentoL2, typeCacheable, singleFlightCopy, singleFlightFreeze, singleFlightLocal, singleFlightFleet];
const only = process.env.PEERS_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const STRATEGIES = only ? ALL.filter((s) => only.includes(s.id)) : ALL;
if (only && STRATEGIES.length !== only.length) throw new Error(`PEERS_ONLY: unknown id among ${only.join(', ')}; ids: ${ALL.map((s) => s.id).join(', ')}`);

const runStarted = performance.now();
const progress = (line: string) => process.stderr.write(`[peers ${((performance.now() - runStarted) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function run(strategy: Strategy, context: PeerContext, stats: Redis): Promise<StrategyResult> {
  const result: StrategyResult = { strategy, bursts: new Map() };
  const { loader } = context;
  progress(`${strategy.label}: starting`);
  const peer = await within(strategy.start(context), START_TIMEOUT_MS, `${strategy.id} start`).catch((error: unknown) => {
    result.error = messageOf(error);
    return undefined;
  });
  if (!peer) return (progress(`${strategy.label}: did not start: ${result.error}`), result);
  try {
    // Not counted: JIT, first commands on each connection.
    await burst(peer.read, freshKey(strategy.id, 'warm-up'), 100, loader, stats, BURST_TIMEOUT_MS);
    for (const n of SIZES) {
      const rounds: BurstResult[] = [];
      const sizeStarted = performance.now();
      for (let round = 0; round < ROUNDS[n] && (round === 0 || performance.now() - sizeStarted < ROUND_BUDGET_MS); round++) {
        const b = await burst(peer.read, freshKey(strategy.id, `n${n}-r${round}`), n, loader, stats, BURST_TIMEOUT_MS);
        rounds.push(b);
        const cmds = [...b.commands.values()].reduce((a, c) => a + c, 0);
        const sorted = Float64Array.from(b.latencies).sort();
        progress(`${strategy.id} N=${n} round ${round + 1}/${ROUNDS[n]}: ${b.loaderCalls} loader calls, ${cmds} Redis cmds, p99 ${sorted[Math.ceil(0.99 * n) - 1].toFixed(1)} ms, ${b.errors} errors, ${b.ms.toFixed(0)} ms`);
      }
      result.bursts.set(n, rounds);
    }
    result.failing = await burst(peer.readFailing, freshKey(strategy.id, 'failing'), FAILING_CALLERS, loader, stats, BURST_TIMEOUT_MS);
    progress(`${strategy.id} failing loader, ${FAILING_CALLERS} callers: ${result.failing.loaderCalls} loader calls, ${result.failing.errors} rejected, ${result.failing.ms.toFixed(0)} ms`);
    // Bounded as a whole: a read that never answers must not hold the run.
    result.warm = await within(warmHits(peer.read, freshKey(strategy.id, 'warm'), WARM_MS, WARM_WARMUP_MS, WARM_MAX_HITS, loader, stats), WARM_MS + WARM_WARMUP_MS + 10_000, `${strategy.id} warm hits`);
    progress(`${strategy.id} warm hits: ${Math.round(result.warm.perSecond).toLocaleString('en-US')}/s, ${result.warm.commandsPerHit.toFixed(2)} Redis cmds per hit`);
  } catch (error) {
    result.error = messageOf(error);
    progress(`${strategy.label}: failed: ${result.error}`);
  } finally {
    await within(peer.close(), CLOSE_TIMEOUT_MS, `${strategy.id} close`).catch((error: unknown) => progress(`${strategy.id}: close: ${messageOf(error)}`));
    await sleep(100);
  }
  return result;
}

if (!REDIS_BIN) {
  console.log('No redis-server on the PATH (or REDIS_SERVER_BIN): bench:peers needs a private one, skipped');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'sf-peers-bench-'));
  const server = new PrivateRedis(await freePort(), join(dir, 'data'), join(dir, 'redis.log'));
  let stats: Redis | undefined;
  const loader = new Loader();
  try {
    await server.start({ persist: false });
    stats = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await loader.warm();
    const m = await machine(loader, stats);
    const context: PeerContext = { redisUrl: server.url, redisHost: '127.0.0.1', redisPort: server.port, loader, runId: randomUUID().slice(0, 8) };
    console.log(`# bench:peers${QUICK ? ' (PEERS_QUICK=1: a smoke run)' : ''}\n`);
    console.log(
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory}; Node ${m.node}; PostgreSQL ${m.postgres} (127.0.0.1:5432); Redis ${m.redis} (a private redis-server on 127.0.0.1:${server.port}).`,
    );
    console.log(
      `Loader: a ${QUERY_MS} ms PostgreSQL query (pg Pool, max ${POOL_SIZE}) returning { key, at: Date, note: ISO text }. ` +
        `Bursts: N callers on one cold key, started in one synchronous loop; rounds per N: ${SIZES.map((n) => `${n.toLocaleString('en-US')}: ${ROUNDS[n]}`).join(', ')} ` +
        `(none started after ${ROUND_BUDGET_MS / 1000} s of one size), a fresh key each; ` +
        `counts are means per burst, p50/p99 over the callers of all rounds, in ms from the burst's start.\n`,
    );

    const results: StrategyResult[] = [];
    for (const strategy of STRATEGIES) results.push(await run(strategy, context, stats));

    for (const n of SIZES) {
      console.log(`\n### Cold-key burst, N = ${n.toLocaleString('en-US')}\n`);
      console.log(burstTable(results, n));
    }
    console.log(
      '\nCache reads: GET, MGET (and other reads); cache writes: SET, EXPIRE (and other writes); Redis cmds: every command the server counted (INFO commandstats deltas, ' +
        "this benchmark's own INFO excluded). commandstats also counts what a Lua script runs: the fleet-wide row's GET, DEL and PUBLISH run inside its one EVAL (the lease release).",
    );
    console.log(`\n### Types kept\n`);
    console.log(typesTable(results, 100));
    console.log(`\n### Failing loader (${FAILING_CALLERS} concurrent callers, the loader throws after its ${QUERY_MS} ms query) and warm hits (sequential, ${WARM_MS} ms)\n`);
    console.log(failureAndHitTable(results, FAILING_CALLERS));
    console.log("\n`no cache` has no hits: its row is the query's own rate, one at a time.");
    const failed = results.filter((r) => r.error);
    if (failed.length) console.log(`\nFailed: ${failed.map((r) => `${r.strategy.label}: ${r.error}`).join('; ')}`);

    const subtitle = `${m.cpu}, ${m.cores} cores, Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}${QUICK ? ', PEERS_QUICK=1' : ''}`;
    const plots = writePlots(results, SIZES, PLOTS_DIR, subtitle);
    console.log(`\nPlots: ${plots.map((p) => (p.startsWith(ROOT) ? relative(ROOT, p) : p)).join(', ')}`);
    progress(`done in ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
  } finally {
    await stats?.quit().catch(() => undefined);
    await loader.close().catch(() => undefined);
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
