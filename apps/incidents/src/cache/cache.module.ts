import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { CACHE_BACKEND, memoryBackend, redisBackend, type CacheBackend } from './cache-backend.js';

@Module({})
export class AppCacheModule {
  static forRoot(redisUrl: string | undefined): DynamicModule {
    const backend: CacheBackend = redisUrl ? redisBackend(redisUrl) : memoryBackend();
    return {
      module: AppCacheModule,
      global: true,
      imports: [CacheModule.register({ isGlobal: true, ...(backend.stores ? { stores: backend.stores } : {}) })],
      providers: [{ provide: CACHE_BACKEND, useValue: backend }],
      exports: [CACHE_BACKEND],
    };
  }
}
