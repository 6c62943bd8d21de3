import type { OnApplicationBootstrap, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { callKey } from './cache-key.js';
import type { CacheLayout } from './cache-layout.js';
import type { CallerValues } from './caller-value.js';
import { InvalidationError, SingleFlightConfigError } from './errors.js';
import type { BackgroundRefreshes } from './background-refreshes.js';
import { assertStaleIfErrorReachable, ExpiryPolicies } from './expiry-policy.js';
import type { FleetBus } from './fleet-bus.js';
import type { FlightTelemetry, MethodTelemetry } from './flight-telemetry.js';
import type { FlightRegistry, FlightRunOptions } from './flight-registry.js';
import type { LocalTier } from './local-tier.js';
import type { RedisLink } from './redis-link.js';
import { providerInvocation, type Invocation } from './invocation.js';
import type { AnyFunction, MethodExecutor } from './decorators/method-trampoline.js';
import type { MethodMetadata } from './decorators/method-metadata.js';
import type { Outcome, ReadRequest, ReadThrough } from './read-through.js';
import { insideFlightOf, runFlightOf } from './reentry-guard.js';
import { callClock, NO_TAGS, type TagInvalidation } from './tag-invalidation.js';
import type { ExecutorSettings } from './module-settings.js';

/**
 * The cache -> coalesce -> load -> populate flow behind the decorators, one per application.
 * Provider methods reach it through their trampoline, controller handlers through
 * CachedInterceptor; the steps live in read-through.ts, tag-invalidation.ts and caller-value.ts.
 */
export class CachedExecutor implements MethodExecutor, OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  constructor(
    readonly settings: ExecutorSettings,
    private readonly registry: FlightRegistry,
    readonly tags: TagInvalidation,
    private readonly readThrough: ReadThrough | undefined,
    private readonly values: CallerValues,
    /** Background refreshes of stale values, stopped with the application. */
    readonly refreshes: BackgroundRefreshes,
    /** Counts every outcome (SingleFlightStats, OpenTelemetry). */
    private readonly telemetry: FlightTelemetry,
    /** The stores, for diagnostics (their breakers); undefined without a CACHE_MANAGER. */
    readonly layout?: CacheLayout,
    /** The in-process tier (`forRoot({ local })`). */
    readonly local?: LocalTier,
    /** The bus and its Redis connections (`forRoot({ redis })`), closed with the application. */
    readonly fleet?: { link: RedisLink; bus: FleetBus },
  ) {
    this.policies = new ExpiryPolicies(settings);
  }

  /** Each method's ttl and stale windows (expiry-policy.ts). */
  readonly policies: ExpiryPolicies;

  /** Fails at start, naming the method, for what only the running application can tell. */
  assertUsable(where: string, meta: MethodMetadata): void {
    if ((meta.cached || meta.evict) && !this.readThrough) {
      const decorator = meta.cached ? '@Cached()' : '@CacheEvict()';
      throw new SingleFlightConfigError(
        `${where}: ${decorator} needs a cache, but no CACHE_MANAGER is provided. Import CacheModule.register({ isGlobal: true }) from @nestjs/cache-manager.`,
      );
    }
    if (meta.cached?.local && !this.local) {
      throw new SingleFlightConfigError(`${where}: @Cached({ local: true }) needs the module's local tier: SingleFlightModule.forRoot({ local: { max: 10_000 } })`);
    }
    if (meta.cached) this.assertExpiry(where, meta);
    else if (meta.singleFlight?.softTimeout !== undefined) {
      throw new SingleFlightConfigError(`${where}: @SingleFlight({ softTimeout }) needs @Cached({ staleIfError }): without a cache there is no stale value to hand out when the load is slow`);
    }
    if (meta.singleFlight?.distributed) {
      // The kill switch opens no Redis connection, and runs the method plainly: nothing to check.
      if (!this.fleet && this.settings.enabled) throw new SingleFlightConfigError(`${where}: @SingleFlight({ distributed: true }) needs the module's "redis" (an ioredis client or a URL), where its leases are taken`);
      if (!meta.cached) throw new SingleFlightConfigError(`${where}: @SingleFlight({ distributed: true }) needs @Cached(): the other processes wait for the entry the loader writes`);
    }
  }

  /** Stale windows and refreshes are measured from the ttl, and a soft timeout needs a stale value to fall back on. */
  private assertExpiry(where: string, meta: MethodMetadata): void {
    const policy = this.policies.of(meta);
    const needTtl = [
      policy.staleWhileRevalidate > 0 && 'staleWhileRevalidate',
      policy.staleIfError > 0 && 'staleIfError',
      policy.refreshAhead !== undefined && 'refreshAhead',
      policy.jitter > 0 && 'jitter',
    ].filter((name): name is string => typeof name === 'string');
    if (policy.ttl === undefined && needTtl.length > 0) {
      throw new SingleFlightConfigError(
        `${where}: ${needTtl.join(', ')} need${needTtl.length === 1 ? 's' : ''} a ttl the library knows (@Cached({ ttl }) or forRoot({ ttl })): ${needTtl.length === 1 ? 'it is' : 'they are'} measured from it`,
      );
    }
    // Only a method's own staleIfError: a module default under its own staleWhileRevalidate is left alone.
    if (meta.cached?.staleIfError !== undefined) assertStaleIfErrorReachable(where, policy.staleIfError, policy.staleWhileRevalidate);
    const ownSoftTimeout = meta.cached?.softTimeout ?? meta.singleFlight?.softTimeout;
    if (ownSoftTimeout !== undefined && policy.staleIfError <= policy.staleWhileRevalidate) {
      throw new SingleFlightConfigError(
        `${where}: softTimeout needs a staleIfError window longer than staleWhileRevalidate (${policy.staleIfError} <= ${policy.staleWhileRevalidate} ms): only there does a load run in front of callers with a stale value to fall back on`,
      );
    }
    const hardTimeout = meta.singleFlight?.hardTimeout ?? this.settings.hardTimeout;
    // The module's default applies only where there is a staleIfError window beyond staleWhileRevalidate.
    const applies = ownSoftTimeout !== undefined || policy.staleIfError > policy.staleWhileRevalidate;
    if (applies && policy.softTimeout !== undefined && policy.softTimeout >= hardTimeout) {
      throw new SingleFlightConfigError(`${where}: softTimeout ${policy.softTimeout} ms is not shorter than the hard timeout (${hardTimeout} ms), which ends the load first`);
    }
  }

  /** Redis is connected once the application has started (the explorer's checks passed). */
  onApplicationBootstrap(): void {
    this.fleet?.link.open();
  }

  /**
   * Queued invalidations get one last try while the stores may still be open (a rolling deploy
   * during a blip). With @nestjs/cache-manager it has already run, before the stores disconnected
   * (executor.provider.ts); this covers a CACHE_MANAGER without that hook.
   */
  onModuleDestroy(): Promise<void> {
    // Before the application's own resources (a database pool) close: no refresh loads from here on.
    this.refreshes.stop();
    return this.tags.retries.flush();
  }

  /** Stops retrying queued invalidations, naming those never written. */
  async onApplicationShutdown(): Promise<void> {
    this.tags.stop();
    if (this.fleet) {
      this.fleet.bus.stop();
      await this.fleet.link.close();
    }
  }

  /** Entry point of provider trampolines. */
  call(instance: object, trampoline: AnyFunction, original: AnyFunction, args: unknown[]): Promise<unknown> {
    return this.execute(providerInvocation(instance, trampoline, original, args));
  }

  async execute(inv: Invocation): Promise<unknown> {
    const { cached, singleFlight, evict } = inv.meta;
    if (!this.settings.enabled) return inv.load(inv.signal);
    if (evict) return this.loadThenEvict(inv);
    const telemetry = this.telemetryOf(inv);
    const startedAt = callClock.now();
    const key = callKey(inv, this.settings.keyPrefix, this.settings.vary);
    // A call made from inside its own flight would wait for itself: it runs plainly.
    if (singleFlight && insideFlightOf(key)) return inv.load(inv.signal);
    const local = cached !== undefined && this.local !== undefined && cached.local !== false;
    if (local) {
      const kept = this.local!.get(key);
      if (kept) {
        telemetry.hit('local');
        // A hot key refreshed before it expires in front of its callers (refreshAhead).
        if (kept.refreshAt !== undefined && kept.refreshAt <= Date.now() && this.refreshes.wanted(key)) this.refreshAhead(key, inv, telemetry);
        return this.values.fromKept(kept);
      }
    }
    // Made by the caller that runs it: those who join a flight (10,000 in a burst) never need one.
    let request: ReadRequest | undefined;
    const produce = cached
      ? (signal: AbortSignal | undefined, own = false): Promise<Outcome> => {
          request ??= this.readRequest(key, inv, local, telemetry);
          return this.readThrough!.run(signal === request.signal && !own ? request : { ...request, signal, own });
        }
      : (signal: AbortSignal | undefined): Promise<Outcome> => this.loadOnly(key, inv, signal, telemetry);
    const first = await this.fly(key, inv, produce, telemetry);
    // A caller that joined a flight evicted under it starts over (tag-invalidation.ts, rule 4).
    const fresh = this.tags.freshFor(first, startedAt, (lastTry) => (lastTry ? produce(inv.signal, true) : this.fly(key, inv, produce, telemetry)));
    const outcome = fresh === first ? first : await fresh;
    return this.values.handOut(outcome.value, () => inv.load(inv.signal));
  }

  /** The read-through of a @Cached call. */
  private readRequest(key: string, inv: Invocation, local: boolean, telemetry: MethodTelemetry): ReadRequest {
    const { cached, singleFlight } = inv.meta;
    const distributed = singleFlight !== undefined && this.fleet !== undefined && (singleFlight.distributed ?? this.settings.distributed);
    const hardTimeout = singleFlight?.hardTimeout ?? this.settings.hardTimeout;
    return {
      key,
      inv,
      tags: this.tags.cachedTags(inv),
      load: this.flightLoad(key, inv),
      signal: inv.signal,
      freeze: cached!.freeze ?? singleFlight?.freeze ?? this.settings.freeze,
      // JSON follows: a value JSON cannot write is neither cached nor taken from the cache (value-limits.ts).
      json: cached!.json ?? (inv.json || this.settings.json),
      local,
      fleetTimeout: distributed ? hardTimeout : undefined,
      hardTimeout,
      policy: this.policies.of(inv.meta),
      keyNow: () => callKey(inv, this.settings.keyPrefix, this.settings.vary),
      telemetry,
    };
  }

  private telemetryOf(inv: Invocation): MethodTelemetry {
    return this.telemetry.of(inv.scope);
  }

  /** Inside a flight, the method runs marked as that flight's work: a call back into it runs plainly. */
  private flightLoad(key: string, inv: Invocation): Invocation['load'] {
    return inv.meta.singleFlight ? (signal) => runFlightOf(key, () => inv.load(signal)) : inv.load;
  }

  /** A local hit past `refreshAhead`: one background refresh (a tag function that fails skips it: the next miss reports it). */
  private refreshAhead(key: string, inv: Invocation, telemetry: MethodTelemetry): void {
    let request: ReadRequest;
    try {
      request = this.readRequest(key, inv, true, telemetry);
    } catch {
      return;
    }
    this.readThrough!.refreshLater(request);
  }

  private fly(key: string, inv: Invocation, produce: (signal: AbortSignal | undefined) => Promise<Outcome>, telemetry: MethodTelemetry): Promise<Outcome> {
    const { singleFlight } = inv.meta;
    if (!singleFlight) return produce(inv.signal);
    const joining = this.registry.waiters(key) > 0;
    const options = {
      timeout: singleFlight.timeout ?? this.settings.timeout,
      hardTimeout: singleFlight.hardTimeout ?? this.settings.hardTimeout,
      signal: inv.signal,
      // Only a caller that passed a signal makes the method take one: the flight's.
      abortable: inv.signal !== undefined,
    };
    const outcome = this.registry.run(key, produce as (signal?: AbortSignal) => Promise<Outcome>, options as FlightRunOptions & { abortable: false });
    if (joining) return telemetry.joined(outcome);
    telemetry.flight();
    return outcome;
  }

  /** A @SingleFlight call without @Cached: the flight's load, shared, never cached. */
  private async loadOnly(key: string, inv: Invocation, signal: AbortSignal | undefined, telemetry: MethodTelemetry): Promise<Outcome> {
    const freeze = inv.meta.singleFlight?.freeze ?? this.settings.freeze;
    const result = await telemetry.load(() => this.flightLoad(key, inv)(signal));
    const value = this.values.fromResult(result, inv.where, key, freeze, inv.json || this.settings.json, false);
    return { value, freshAt: Infinity, tags: NO_TAGS };
  }

  private async loadThenEvict(inv: Invocation): Promise<unknown> {
    const result = await inv.load(inv.signal);
    const { tags, failure } = this.tags.evictedTags(inv, result);
    const written = await this.tags.invalidate(tags);
    if (tags.length > 0) this.telemetryOf(inv).invalidated(written);
    if (failure !== undefined) throw new InvalidationError(inv.where, result, tags, failure);
    return result;
  }
}
