export interface CircuitBreakerOptions {
  /** Consecutive store failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long (ms) the circuit stays open before one probe is let through. Default 10,000. */
  resetTimeout?: number;
}

/**
 * Closed -> open after `failureThreshold` consecutive failures -> after `resetTimeout`, one probe
 * (half-open) -> closed on success, open again on failure. While open, the store is not touched.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(
    private readonly options: Required<CircuitBreakerOptions>,
    private readonly onChange: (open: boolean, cause?: unknown) => void,
  ) {}

  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  /** May an operation go to the store now? */
  allow(): boolean {
    if (this.openedAt === undefined) return true;
    if (this.probing || Date.now() - this.openedAt < this.options.resetTimeout) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.openedAt !== undefined) {
      this.openedAt = undefined;
      this.onChange(false);
    }
  }

  failure(cause: unknown): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.openedAt === undefined && this.failures >= this.options.failureThreshold)) {
      const wasOpen = this.openedAt !== undefined;
      this.openedAt = Date.now();
      if (!wasOpen) this.onChange(true, cause);
    }
  }
}
