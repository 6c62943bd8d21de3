import { type DynamicModule, Module } from '@nestjs/common';
import { SingleFlightModule } from '@app/single-flight';
import type { MemoryCacheLimits } from './cache/bounded-memory-store.js';
import { AppCacheModule } from './cache/cache.module.js';
import { DEFAULT_HARD_TIMEOUT_MS, type AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { IncidentsModule } from './incidents/incidents.module.js';

export type ResolvedConfig = AppConfig & {
  databaseUrl: string;
  /** Bounds of the in-memory cache; MEMORY_CACHE_LIMITS unless a test lowers them. */
  memoryCacheLimits?: MemoryCacheLimits;
};

@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(config.databaseUrl, config.statementTimeoutMs),
        AppCacheModule.forRoot(config.redisUrl, config.memoryCacheLimits),
        SingleFlightModule.forRoot({
          ttl: 30_000,
          keyPrefix: config.cacheKeyPrefix,
          enabled: config.singleFlight,
          hardTimeout: config.hardTimeoutMs ?? DEFAULT_HARD_TIMEOUT_MS,
          // Every cached value here ends up in a JSON response: an entry JSON cannot write is a miss, not a 500.
          json: true,
          secret: config.cacheSecret,
        }),
        IncidentsModule,
        HealthModule,
      ],
    };
  }
}
