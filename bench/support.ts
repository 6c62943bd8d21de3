import 'reflect-metadata';
import { CacheModule } from '@nestjs/cache-manager';
import { type INestApplicationContext, type Provider } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Keyv } from 'keyv';
import { Redis } from 'ioredis';
import type { Bench } from 'tinybench';
import { SingleFlightModule, type SingleFlightModuleOptions } from '@app/single-flight';

import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';

export { dropNamespace, redisKeyv } from '../libs/single-flight/test/support/redis-cache.js';

/** A page of 20 incident rows, as the sample app's list query returns it. */
export function incidentPage(rows = 20) {
  return {
    items: Array.from({ length: rows }, (_, i) => ({
      id: `6f1c2a1e-0000-4000-8000-${String(i).padStart(12, '0')}`,
      namespace: 'payments',
      severity: (['critical', 'high', 'medium', 'low'] as const)[i % 4],
      status: i % 2 ? 'open' : 'resolved',
      title: `Latency spike on checkout ${i}`,
      description: i % 3 ? null : 'p99 above SLO for five minutes',
      createdAt: new Date(1_700_000_000_000 + i * 1000),
      resolvedAt: i % 2 ? null : new Date(1_700_000_500_000 + i * 1000),
    })),
    total: 50_000,
  };
}

export async function redisReachable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A Nest application context with the cache (memory, or `stores`), the module and `providers`. */
export async function benchApp(providers: Provider[], stores?: Keyv[], options: SingleFlightModuleOptions = {}): Promise<INestApplicationContext> {
  @Module({
    // A default ttl, so that the hand-written and wrap rows' keys expire too.
    imports: [CacheModule.register({ isGlobal: true, ttl: 600_000, ...(stores ? { stores } : {}) }), SingleFlightModule.forRoot(options)],
    providers,
  })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
}

/** µs per call of each task, and its ratio to the first (the baseline). */
export function costTable(bench: Bench): Record<string, string>[] {
  const base = bench.tasks[0].result as { latency: { mean: number } };
  return bench.tasks.map((task) => {
    const { latency } = task.result as { latency: { mean: number; p99?: number; rme?: number } };
    return {
      case: task.name,
      'µs/call': (latency.mean * 1000).toFixed(2),
      '± %': latency.rme?.toFixed(1) ?? '',
      'vs baseline': `${(latency.mean / base.latency.mean).toFixed(2)}x`,
    };
  });
}
