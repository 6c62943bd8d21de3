// Server-side command counts of the benchmark's private redis-server: INFO commandstats deltas.
// The server serves only this benchmark, so a delta is what the strategy under test sent
// (commandstats also counts the commands a Lua script runs with redis.call).
import type { Redis } from 'ioredis';

export type CommandCounts = Map<string, number>;

/** Calls per command since the server started. */
export async function commandCalls(redis: Redis): Promise<CommandCounts> {
  const calls: CommandCounts = new Map();
  for (const line of (await redis.info('commandstats')).split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1].toUpperCase(), Number(match[2]));
  }
  return calls;
}

/** after - before, without INFO (this benchmark's own reads of the counts). */
export function delta(before: CommandCounts, after: CommandCounts): CommandCounts {
  const out: CommandCounts = new Map();
  for (const [name, calls] of after) {
    if (name === 'INFO') continue;
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) out.set(name, d);
  }
  return out;
}

const READS = new Set(['GET', 'MGET', 'GETEX', 'GETDEL', 'HGET', 'HMGET', 'HGETALL', 'EXISTS', 'STRLEN', 'GETRANGE']);
const WRITES = new Set(['SET', 'SETEX', 'PSETEX', 'SETNX', 'MSET', 'MSETNX', 'HSET', 'HMSET', 'HSETNX', 'GETSET', 'EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT']);

export function classify(counts: CommandCounts): { reads: number; writes: number; total: number } {
  let reads = 0;
  let writes = 0;
  let total = 0;
  for (const [name, calls] of counts) {
    total += calls;
    if (READS.has(name)) reads += calls;
    else if (WRITES.has(name)) writes += calls;
  }
  return { reads, writes, total };
}

/** Adds `counts` into `into`. */
export function accumulate(into: CommandCounts, counts: CommandCounts): void {
  for (const [name, calls] of counts) into.set(name, (into.get(name) ?? 0) + calls);
}
