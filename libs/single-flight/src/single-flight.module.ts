import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CachedExecutor } from './cached-executor.js';
import { CachedInterceptor } from './cached.interceptor.js';
import { executorProvider } from './executor.provider.js';
import { FlightRegistry } from './flight-registry.js';
import { OPTIONS_SOURCE } from './single-flight.constants.js';
import { SingleFlightExplorer } from './single-flight.explorer.js';
import { SingleFlightStats } from './single-flight-stats.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './single-flight.module-definition.js';

/**
 * `SingleFlightModule.forRoot({ ttl: 60_000 })` or `forRootAsync({ useFactory, inject, imports })`,
 * next to `CacheModule.register({ isGlobal: true })` from @nestjs/cache-manager.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [FlightRegistry, SingleFlightStats, executorProvider, SingleFlightExplorer, CachedInterceptor],
  exports: [FlightRegistry, SingleFlightStats, CachedExecutor, CachedInterceptor],
})
export class SingleFlightModule extends ConfigurableModuleClass {
  /** Every option has a default: `forRoot()` with none is a module with the defaults. */
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    const module = super.forRootAsync(options);
    // So that a bad option names the method it came from.
    return { ...module, providers: [...(module.providers ?? []), { provide: OPTIONS_SOURCE, useValue: 'forRootAsync' }] };
  }
}
