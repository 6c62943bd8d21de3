/**
 * Types shared by the decorators: what a `key` or tag function receives, and which methods a
 * decorator accepts. `A` is the part of the method's parameters a function declares (inferred
 * from its annotations), `This` the instance it is called on.
 */

/** A `key` function: its result (any value, canonicalised) replaces the arguments in the key. */
export type KeyFunction<A extends unknown[] = any[], This = any> = (this: This, ...args: A) => unknown;

/** A tag list: strings, and functions of `P` returning one tag or several. Or one function returning them all. */
export type TagList<P extends unknown[] = any[], This = any> =
  | readonly (string | ((this: This, ...args: P) => string | readonly string[]))[]
  | ((this: This, ...args: P) => readonly string[]);

/**
 * Controller handlers' functions receive the request, not the handler's arguments: a function
 * whose first parameter is typed as an HTTP request does not constrain the handler.
 */
type TakesRequest<A extends unknown[]> = A extends readonly [infer First, ...unknown[]]
  ? 0 extends 1 & First
    ? false
    : First extends { method: string; headers: object }
      ? true
      : false
  : false;

/** What `@Cached` and `@SingleFlight` accept: an async method whose leading parameters match `A`. */
export type CacheableMethod<A extends unknown[]> = TakesRequest<A> extends true ? (...args: any[]) => unknown : (...args: [...A, ...any[]]) => Promise<unknown>;

/** What `@CacheEvict` accepts: an async method resolving to `R`, whose leading parameters match `A`. */
export type EvictingMethod<R, A extends unknown[]> = TakesRequest<A> extends true ? (...args: any[]) => unknown : (...args: [...A, ...any[]]) => Promise<R>;

/** A method decorator checked against the method it decorates. */
export type TypedMethodDecorator<M, This> = <T extends M>(
  target: This,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => TypedPropertyDescriptor<T> | void;
