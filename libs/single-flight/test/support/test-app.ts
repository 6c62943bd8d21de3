import { CacheModule } from '@nestjs/cache-manager';
import { type Provider, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Keyv } from 'keyv';
import { SingleFlightModule, type SingleFlightModuleOptions } from '@app/single-flight';

export interface TestAppOptions {
  options?: SingleFlightModuleOptions;
  stores?: Keyv[];
  controllers?: Type[];
  cache?: boolean;
}

/** A Nest application context with the module, a cache (memory unless `stores`) and `providers`. */
export async function createTestApp(providers: Provider[], { options = {}, stores, controllers = [], cache = true }: TestAppOptions = {}): Promise<TestingModule> {
  const imports = [SingleFlightModule.forRoot(options)];
  if (cache) imports.unshift(CacheModule.register({ isGlobal: true, ...(stores ? { stores } : {}) }) as never);
  const moduleRef = await Test.createTestingModule({ imports, providers, controllers }).compile();
  await moduleRef.init();
  return moduleRef;
}
