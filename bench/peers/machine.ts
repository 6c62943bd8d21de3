// What the benchmark ran on, read at run time: CPU, cores, memory, Node, PostgreSQL, Redis.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { Redis } from 'ioredis';
import type { Loader } from './loader.js';

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  postgres: string;
  redis: string;
}

function cpuModel(): string {
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', timeout: 5_000 });
    const model = /^Model name:\s*(.+)$/m.exec(out)?.[1]?.trim();
    const hypervisor = /^Hypervisor vendor:\s*(.+)$/m.exec(out)?.[1]?.trim();
    if (model) return hypervisor ? `${model} (${hypervisor} guest)` : model;
  } catch {
    // no lscpu: os.cpus() below
  }
  return cpus()[0]?.model ?? 'unknown';
}

export async function machine(loader: Loader, redis: Redis): Promise<Machine> {
  const info = await redis.info('server');
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    postgres: await loader.serverVersion(),
    redis: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown',
  };
}
