import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { CachedExecutor } from './cached-executor.js';
import { readMethodMetadata, type MethodMetadata } from './decorators/method-trampoline.js';
import { EXECUTOR } from './single-flight.constants.js';

/**
 * At start-up, finds providers with decorated methods (own or inherited) and installs this
 * application's executor on them, which their trampolines then route calls through.
 * Controllers are only checked: CachedInterceptor serves their handlers, so nothing runs twice.
 */
@Injectable()
export class SingleFlightExplorer implements OnModuleInit, OnModuleDestroy {
  private readonly installed: object[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly executor: CachedExecutor,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getControllers()) this.decoratedMethodsOf(wrapper);
    for (const wrapper of this.discovery.getProviders()) {
      if (this.decoratedMethodsOf(wrapper).length === 0) continue;
      // Request-scoped and transient instances are made later, one per request or consumer:
      // their class prototype carries the executor. Singletons carry it themselves, so several
      // applications in one process (as in tests) each keep their own.
      const perInstance = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
      const target = perInstance ? (wrapper.instance as object) : (wrapper.metatype as Function).prototype;
      Object.defineProperty(target, EXECUTOR, { value: this.executor, configurable: true, writable: true });
      this.installed.push(target);
    }
  }

  onModuleDestroy(): void {
    for (const target of this.installed) {
      if ((target as { [EXECUTOR]?: unknown })[EXECUTOR] === this.executor) delete (target as { [EXECUTOR]?: unknown })[EXECUTOR];
    }
    this.installed.length = 0;
    this.executor.close();
  }

  /** Decorated methods of the wrapper's class and its ancestors, each checked against this application. */
  private decoratedMethodsOf(wrapper: InstanceWrapper): MethodMetadata[] {
    const { instance, metatype } = wrapper;
    if (wrapper.isAlias || !instance || typeof instance !== 'object') return [];
    const found: MethodMetadata[] = [];
    const className = (typeof metatype === 'function' && metatype.name) || instance.constructor?.name || 'anonymous';
    for (let proto = Object.getPrototypeOf(instance); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        // Descriptors, not property reads: a getter is never invoked.
        const meta = readMethodMetadata(Object.getOwnPropertyDescriptor(proto, name)?.value);
        if (!meta) continue;
        this.executor.assertUsable(`${className}.${name}`, meta);
        found.push(meta);
      }
    }
    return found;
  }
}
