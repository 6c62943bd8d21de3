import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { CACHE_BACKEND, type CacheBackend } from './cache-backend.js';

/**
 * Closes the backend's connection once, when the application shuts down: after the HTTP server
 * has closed (Nest runs shutdown hooks last), so no request and no invalidation of the library's
 * is left needing it. SingleFlightModule closes only its own subscription, never this connection.
 */
@Injectable()
class CacheBackendCloser implements OnApplicationShutdown {
  constructor(@Inject(CACHE_BACKEND) private readonly backend: CacheBackend) {}

  onApplicationShutdown(): Promise<void> {
    return this.backend.close();
  }
}

@Module({})
export class AppCacheModule {
  /** CACHE_MANAGER over `backend`, which AppModule made (it hands the same Redis client to SingleFlightModule). */
  static forRoot(backend: CacheBackend): DynamicModule {
    return {
      module: AppCacheModule,
      global: true,
      imports: [CacheModule.register({ isGlobal: true, stores: backend.stores })],
      providers: [{ provide: CACHE_BACKEND, useValue: backend }, CacheBackendCloser],
      exports: [CACHE_BACKEND],
    };
  }
}
