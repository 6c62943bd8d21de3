import { type DynamicModule, Module } from '@nestjs/common';
import { SingleFlightModule } from '@app/single-flight';
import { AppCacheModule } from './cache/cache.module.js';
import type { AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { IncidentsModule } from './incidents/incidents.module.js';

export type ResolvedConfig = AppConfig & { databaseUrl: string };

@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(config.databaseUrl),
        AppCacheModule.forRoot(config.redisUrl),
        SingleFlightModule.forRoot({ ttl: 30_000, keyPrefix: config.cacheKeyPrefix, enabled: config.singleFlight }),
        IncidentsModule,
        HealthModule,
      ],
    };
  }
}
