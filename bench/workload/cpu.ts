// Where the machine's CPU went during a window (Linux /proc): the instances, PostgreSQL's
// processes, redis-server, this bench (the load generator) and the rest. With everything on 2
// cores, the CPU each request costs is what sets the throughput.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type CpuGroup = 'instances' | 'postgres' | 'redis' | 'driver';

export interface CpuSnapshot {
  /** Busy ticks of the whole machine (all cores): /proc/stat's total minus idle and iowait. */
  busy: number;
  total: number;
  /** Ticks (user + system) of each process, with its group. */
  processes: Map<number, { group: CpuGroup; ticks: number }>;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** [comm, utime + stime] of a process, or undefined if it is gone. */
function processTicks(pid: number): [string, number] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' '); // fields[0] is the state (field 3)
    return [comm, Number(fields[11]) + Number(fields[12])]; // utime (14), stime (15)
  } catch {
    return undefined;
  }
}

/** Undefined where there is no /proc (not Linux). */
export function cpuSnapshot(instancePids: number[]): CpuSnapshot | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const [, ...values] = stat.split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  const processes = new Map<number, { group: CpuGroup; ticks: number }>();
  const mine = new Set(instancePids);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const found = processTicks(pid);
    if (!found) continue;
    const [comm, ticks] = found;
    const group: CpuGroup | undefined = mine.has(pid) ? 'instances' : pid === process.pid ? 'driver' : comm === 'postgres' ? 'postgres' : comm === 'redis-server' ? 'redis' : undefined;
    if (group) processes.set(pid, { group, ticks });
  }
  return { busy: total - idle - iowait, total, processes };
}

export interface CpuUse {
  /** CPU seconds per group in the window; `other` is the machine's busy time nobody above accounts for. */
  seconds: Record<CpuGroup | 'other', number>;
  /** Busy share of all cores. */
  busyShare: number;
  /** Share of all cores busy with `other`: work of other processes (and the kernel's, e.g. loopback networking). */
  otherShare: number;
}

/** A process that started inside the window counts from 0; one that ended in it is lost (the pool's connections stay open). */
export function cpuUse(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const hz = clockTicks();
  const seconds: Record<CpuGroup | 'other', number> = { instances: 0, postgres: 0, redis: 0, driver: 0, other: 0 };
  for (const [pid, { group, ticks }] of after.processes) seconds[group] += (ticks - (before.processes.get(pid)?.ticks ?? 0)) / hz;
  const busy = (after.busy - before.busy) / hz;
  seconds.other = Math.max(0, busy - seconds.instances - seconds.postgres - seconds.redis - seconds.driver);
  const elapsed = Math.max(1, after.total - before.total);
  return { seconds, busyShare: (after.busy - before.busy) / elapsed, otherShare: (seconds.other * hz) / elapsed };
}
