import { type DynamicModule, Module } from '@nestjs/common';
import { SingleFlightModule } from '@app/single-flight';
import type { MemoryCacheLimits } from './cache/bounded-memory-store.js';
import { cacheBackend } from './cache/cache-backend.js';
import { AppCacheModule } from './cache/cache.module.js';
import { singleFlightOptions } from './cache/single-flight-options.js';
import type { AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { IncidentsModule } from './incidents/incidents.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

export type ResolvedConfig = AppConfig & {
  databaseUrl: string;
  /** Bounds of the in-memory cache; MEMORY_CACHE_LIMITS unless a test lowers them. */
  memoryCacheLimits?: MemoryCacheLimits;
};

@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    // One backend, so the cache store and the library share its Redis connection (single-flight-options.ts).
    const backend = cacheBackend(config);
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(config.databaseUrl, config.statementTimeoutMs),
        AppCacheModule.forRoot(backend),
        SingleFlightModule.forRoot(singleFlightOptions(config, backend)),
        IncidentsModule,
        HealthModule,
        MetricsModule,
      ],
    };
  }
}
