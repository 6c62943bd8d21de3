/**
 * Replaces Date.now with a clock the test moves by hand, for circuit breakers built while it is
 * installed (a breaker reads its clock through Date.now). `restore()` puts the real one back.
 */
export function installFakeClock(start = Date.now()): { advance(ms: number): void; restore(): void } {
  const real = Date.now;
  let now = start;
  Date.now = () => now;
  return {
    advance: (ms) => void (now += ms),
    restore: () => void (Date.now = real),
  };
}
