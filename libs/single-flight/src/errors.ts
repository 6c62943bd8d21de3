/** A caller waited longer than its `timeout`, or the flight outlived its `hardTimeout`. */
export class FlightTimeoutError extends Error {
  override readonly name = 'FlightTimeoutError';
  constructor(
    readonly key: string,
    readonly ms: number,
    readonly kind: 'caller' | 'flight',
  ) {
    super(
      kind === 'caller'
        ? `Gave up waiting for flight "${key}" after ${ms} ms (timeout); the flight goes on for other callers`
        : `Flight "${key}" did not settle within ${ms} ms (hardTimeout); it was forgotten and its loader aborted`,
    );
  }
}

/** Bad decorator or module options. Thrown at decoration time or application start, never per request. */
export class SingleFlightConfigError extends Error {
  override readonly name = 'SingleFlightConfigError';
}
