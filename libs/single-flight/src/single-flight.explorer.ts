import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApplicationConfig, DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { CachedExecutor } from './cached-executor.js';
import { decoratedMethods, ExecutorInstaller } from './executor-installer.js';
import { checkHandler } from './handler-checks.js';
import { classNameOf } from './invocation.js';
import { KeyScopes } from './key-scopes.js';
import { TagInvalidation } from './tag-invalidation.js';

/**
 * At start-up, finds the decorated methods of providers and controllers (own or inherited),
 * checks them against this application, and installs its executor on providers, whose
 * trampolines then route calls through it. Controllers are only checked: CachedInterceptor serves
 * their handlers, so nothing runs twice.
 */
@Injectable()
export class SingleFlightExplorer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SingleFlight');
  private readonly installer: ExecutorInstaller;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly executor: CachedExecutor,
    private readonly config: ApplicationConfig,
  ) {
    this.installer = new ExecutorInstaller(executor);
  }

  onModuleInit(): void {
    const scopes = new KeyScopes();
    /** The entry lifetimes of tagged @Cached methods: those that record tag tokens. */
    const ttls = new Map<string, number | undefined>();
    const visit = (wrapper: InstanceWrapper, isController: boolean) => {
      if (wrapper.isAlias) return;
      // What the start has made: the instance, or for a transient provider, one per consumer.
      const made = [wrapper.instance, ...(wrapper.isTransient ? wrapper.getStaticTransientInstances().map((host) => host?.instance) : [])];
      const instance = made.find((candidate): candidate is object => typeof candidate === 'object' && candidate !== null);
      if (!instance) {
        // A request-scoped factory: what it makes is known only when it makes it.
        if (!isController && wrapper.inject) this.installer.installOnFactory(wrapper);
        return;
      }
      const methods = decoratedMethods(Object.getPrototypeOf(instance));
      if (methods.length === 0) return;
      const type = instance.constructor;
      const className = classNameOf(type);
      const module = wrapper.host?.name ?? 'an unknown module';
      for (const { name, meta } of methods) {
        this.executor.assertUsable(`${className}.${name}`, meta);
        scopes.add(className, name, meta, type, module);
        if (meta.cached?.tags) ttls.set(`${className}.${name}`, this.executor.policies.of(meta).longestStoreTtl);
        if (isController) checkHandler(type, name, meta, this.config, this.logger);
      }
      if (isController) return;
      if (wrapper.isDependencyTreeStatic() && !wrapper.isTransient) scopes.addInstance(type, describeToken(wrapper.token), methods);
      this.installer.install(wrapper);
    };
    for (const wrapper of this.discovery.getControllers()) visit(wrapper, true);
    for (const wrapper of this.discovery.getProviders()) visit(wrapper, false);
    for (const warning of scopes.sharedInstances()) this.logger.warn(warning);
    this.configureTokenLifetime(ttls);
  }

  onModuleDestroy(): void {
    this.installer.uninstall();
  }

  private configureTokenLifetime(ttls: Map<string, number | undefined>): void {
    const { tagTtl, hardTimeout } = this.executor.settings;
    if (tagTtl !== undefined) return this.executor.tags.setTokenTtl(tagTtl);
    const unknown = [...ttls].filter(([, ttl]) => ttl === undefined).map(([where]) => where);
    if (unknown.length) {
      this.logger.warn(
        `Tag tokens are written without expiry: ${unknown.join(', ')} ${unknown.length > 1 ? 'have' : 'has'} tags but no ttl the library knows ` +
          '(CACHE_MANAGER\'s default is not visible to it). Give @Cached or forRoot() a ttl, or set forRoot({ tagTtl }).',
      );
    }
    const longest = unknown.length ? undefined : Math.max(0, ...(ttls.values() as Iterable<number>));
    this.executor.tags.setTokenTtl(TagInvalidation.tokenLifetime(longest, hardTimeout));
  }
}

const describeToken = (token: unknown): string => (typeof token === 'function' ? token.name : String(token));
