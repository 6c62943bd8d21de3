import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CACHE_BACKEND, type CacheBackend } from '../cache/cache-backend.js';

const PING_TIMEOUT_MS = 500;

/**
 * The cache is an optimisation: when it is unreachable the app serves from the database, so a dead
 * cache reports `up` with `degraded: true` and never turns the health check red.
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    @Inject(CACHE_BACKEND) private readonly backend: CacheBackend,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key: string) {
    const indicator = this.indicators.check(key);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.backend.ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS))),
      ]);
      return indicator.up({ store: this.backend.description, degraded: false });
    } catch (error) {
      return indicator.up({
        store: this.backend.description,
        degraded: true,
        message: `cache unreachable (${(error as Error).message}); reads are served from the database`,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
