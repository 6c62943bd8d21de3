import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { CACHE_BACKEND, memoryBackend, redisBackend, type CacheBackend } from './cache-backend.js';
import type { MemoryCacheLimits } from './bounded-memory-store.js';

@Module({})
export class AppCacheModule {
  static forRoot(redisUrl: string | undefined, memoryLimits?: MemoryCacheLimits): DynamicModule {
    const backend: CacheBackend = redisUrl ? redisBackend(redisUrl) : memoryBackend(memoryLimits);
    return {
      module: AppCacheModule,
      global: true,
      imports: [CacheModule.register({ isGlobal: true, stores: backend.stores })],
      providers: [{ provide: CACHE_BACKEND, useValue: backend }],
      exports: [CACHE_BACKEND],
    };
  }
}
