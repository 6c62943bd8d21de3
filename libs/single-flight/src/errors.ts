import { ServiceUnavailableException } from '@nestjs/common';

/** An error's message, or whatever was thrown, as text. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A value as an error message shows it: JSON where it can be, never the text of a function. */
export const showValue = (value: unknown): string => (typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value)));

/**
 * A caller waited longer than its `timeout`, or the flight outlived its `hardTimeout`. A Nest
 * ServiceUnavailableException: over HTTP it is a 503 whose body says nothing of the key (which may
 * hold personal data), and Nest does not log it per request; the flight logs its hard timeout once.
 */
export class FlightTimeoutError extends ServiceUnavailableException {
  override readonly name = 'FlightTimeoutError';
  constructor(
    readonly key: string,
    readonly ms: number,
    readonly kind: 'caller' | 'flight',
    /** For `kind: 'flight'`: whether the loader had an AbortSignal to abort. */
    loaderAborted = false,
  ) {
    super({ statusCode: 503, error: 'Service Unavailable', message: 'The data did not arrive in time; try again' });
    this.message =
      kind === 'caller'
        ? `Gave up waiting for flight "${key}" after ${ms} ms (timeout); the flight goes on for other callers`
        : `Flight "${key}" did not settle within ${ms} ms (hardTimeout): its callers were rejected and the next call starts a new flight; ${
            loaderAborted ? "the loader's AbortSignal was aborted" : 'the loader takes no AbortSignal, so it was left to finish'
          }`;
  }
}

/** Bad decorator or module options. Thrown at decoration time or application start, never per request. */
export class SingleFlightConfigError extends Error {
  override readonly name = 'SingleFlightConfigError';
}

/** A call's arguments, or the module's `vary` value, cannot be turned into a key (thrown by that call, naming the method). */
export class CacheKeyError extends TypeError {
  override readonly name = 'CacheKeyError';
}

/**
 * A `@CacheEvict` method succeeded, but not all of its tags could be computed. Its result is on
 * `result`; the tags that could be computed (`invalidated`) were invalidated before this was thrown.
 */
export class InvalidationError extends Error {
  override readonly name = 'InvalidationError';
  constructor(
    where: string,
    readonly result: unknown,
    readonly invalidated: readonly string[],
    cause: unknown,
  ) {
    super(
      `${where}: the method succeeded, but its cache invalidation failed: ${messageOf(cause)}. ` +
        `Invalidated (or queued for retry, if the store is down): ${invalidated.length ? invalidated.join(', ') : 'nothing'}; entries under the other tags may be served until their ttl ends. ` +
        'The method\'s result is on error.result. Tags functions must not throw.',
      { cause },
    );
  }
}
