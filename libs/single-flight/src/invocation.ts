import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { readMethodMetadata, scopeOf, type MethodMetadata } from './decorators/method-metadata.js';
import type { AnyFunction } from './decorators/method-trampoline.js';

/** One call of a decorated provider method or controller handler, in the one shape the flow takes. */
export interface Invocation {
  /** `Class.method`, for messages. */
  where: string;
  /** `namespace-or-Class.method`: the key's scope. */
  scope: string;
  meta: MethodMetadata;
  /** `this` for key and tag functions: the provider instance (undefined for handlers). */
  self: unknown;
  /** What `key` and tag functions receive. */
  fnArgs: readonly unknown[];
  /** What the default key is made of. */
  keyParts: readonly unknown[];
  /** The caller's own cancellation. */
  signal?: AbortSignal;
  /** A handler's response: JSON follows, unless `@Cached({ json: false })` says otherwise. */
  json: boolean;
  /** Runs the method; `signal` is the flight's (or, without a flight, the caller's own). */
  load(signal: AbortSignal | undefined): unknown;
}

const metadata = new WeakMap<Function, MethodMetadata | null>();

/** A method's decorator metadata, read once per method; undefined for an undecorated one. */
export function metadataOf(method: Function): MethodMetadata | undefined {
  let meta = metadata.get(method);
  if (meta === undefined) metadata.set(method, (meta = readMethodMetadata(method) ?? null));
  return meta ?? undefined;
}

/** The name keys and messages use for a class. */
export const classNameOf = (type: Function | undefined): string => type?.name || 'anonymous';

const isAbortSignal = (value: unknown): value is AbortSignal =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object AbortSignal]';

export function providerInvocation(instance: object, trampoline: AnyFunction, original: AnyFunction, args: unknown[]): Invocation {
  const meta = metadataOf(trampoline)!;
  const className = classNameOf(instance.constructor);
  let signal: AbortSignal | undefined;
  let keyArgs: readonly unknown[] = args;
  if (args.some(isAbortSignal)) {
    signal = args.find(isAbortSignal);
    keyArgs = args.filter((arg) => !isAbortSignal(arg));
  }
  return {
    where: `${className}.${original.name}`,
    scope: scopeOf(meta, className, original.name),
    meta,
    self: instance,
    fnArgs: keyArgs,
    keyParts: keyArgs,
    signal,
    json: false,
    // The method sees the flight's signal where its caller passed one, never the caller's own.
    load: (loadSignal) => original.apply(instance, signal ? args.map((arg) => (isAbortSignal(arg) ? loadSignal : arg)) : args),
  };
}

/**
 * A handler call as CachedInterceptor sees it. HTTP: the key functions get the request and the
 * default key is the params and query; RPC and websockets: the handler's arguments and the data.
 * `undefined` for a context with no default key and no key function.
 */
export function handlerInvocation(context: ExecutionContext, next: CallHandler, meta: MethodMetadata): Invocation | undefined {
  const className = context.getClass().name;
  const name = context.getHandler().name;
  const base = {
    where: `${className}.${name}`,
    scope: scopeOf(meta, className, name),
    meta,
    self: undefined,
    json: true,
    load: () => lastValueFrom(next.handle(), { defaultValue: undefined }),
  };
  switch (context.getType()) {
    case 'http': {
      const request = context.switchToHttp().getRequest<{ params?: unknown; query?: unknown }>();
      return { ...base, fnArgs: [request], keyParts: [request.params ?? {}, request.query ?? {}] };
    }
    case 'rpc':
      return { ...base, fnArgs: context.getArgs(), keyParts: [context.switchToRpc().getData()] };
    case 'ws':
      return { ...base, fnArgs: context.getArgs(), keyParts: [context.switchToWs().getData()] };
    default:
      return meta.cached?.key || meta.singleFlight?.key || meta.evict ? { ...base, fnArgs: context.getArgs(), keyParts: [] } : undefined;
  }
}
