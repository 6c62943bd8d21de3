export interface CircuitBreakerOptions {
  /** Consecutive store failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long (ms) the circuit stays open before one probe is let through. Default 10,000. */
  resetTimeout?: number;
}

/**
 * Closed -> open after `failureThreshold` consecutive failures -> after `resetTimeout`, one probe
 * (half-open) -> closed on success, open again on failure. While open, the store is not touched.
 * Callers report the outcome of exactly the operations `allow()` let through.
 */
export class CircuitBreaker {
  /** Failures in a row (reset by a success). */
  private consecutive = 0;
  private reported = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(
    private readonly options: Required<CircuitBreakerOptions>,
    private readonly onChange: (open: boolean, cause?: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every failure reported, for diagnostics. */
  get failures(): number {
    return this.reported;
  }

  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  /** When the circuit last opened (Date.now), while it is open. */
  get openSince(): number | undefined {
    return this.openedAt;
  }

  /** May an operation go to the store now? When the circuit is half-open, this takes the one probe. */
  allow(): boolean {
    if (this.openedAt === undefined) return true;
    if (this.probing || this.now() - this.openedAt < this.options.resetTimeout) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.consecutive = 0;
    this.probing = false;
    if (this.openedAt !== undefined) {
      this.openedAt = undefined;
      this.onChange(false);
    }
  }

  failure(cause: unknown): void {
    this.reported++;
    this.consecutive++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.openedAt === undefined && this.consecutive >= this.options.failureThreshold)) {
      const wasOpen = this.openedAt !== undefined;
      this.openedAt = this.now();
      if (!wasOpen) this.onChange(true, cause);
    }
  }
}
