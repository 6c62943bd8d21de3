import { CircuitBreaker } from './circuit-breaker.js';

/** A breaker on a clock the test moves, recording its open/close notifications. */
function breakerFor(failureThreshold = 3, resetTimeout = 1_000) {
  let now = 1_000_000;
  const changes: { open: boolean; cause?: unknown }[] = [];
  const breaker = new CircuitBreaker({ failureThreshold, resetTimeout }, (open, cause) => void changes.push({ open, cause }), () => now);
  return { breaker, changes, advance: (ms: number) => void (now += ms) };
}

const boom = (n = 0) => new Error(`store down ${n}`);

describe('CircuitBreaker', () => {
  it('stays closed below failureThreshold consecutive failures, and opens on reaching it (notifying once, with the cause)', () => {
    const { breaker, changes } = breakerFor(3);
    breaker.failure(boom(1));
    breaker.failure(boom(2));
    expect(breaker.isOpen).toBe(false);
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual([]);
    const third = boom(3);
    breaker.failure(third);
    expect(breaker.isOpen).toBe(true);
    expect(changes).toEqual([{ open: true, cause: third }]);
  });

  it('counts consecutive failures only: a success in between resets the count toward the threshold', () => {
    const { breaker } = breakerFor(3);
    breaker.failure(boom());
    breaker.failure(boom());
    breaker.success();
    breaker.failure(boom());
    breaker.failure(boom());
    expect(breaker.isOpen).toBe(false);
    breaker.failure(boom());
    expect(breaker.isOpen).toBe(true);
  });

  it('`failures` counts every failure reported, and a success does not reset it', () => {
    const { breaker } = breakerFor(3);
    expect(breaker.failures).toBe(0);
    breaker.failure(boom());
    breaker.failure(boom());
    breaker.success();
    breaker.failure(boom());
    expect(breaker.failures).toBe(3);
    expect(breaker.isOpen).toBe(false);
  });

  it('while open, lets nothing through until resetTimeout has elapsed on the injected clock', () => {
    const { breaker, advance } = breakerFor(1, 1_000);
    breaker.failure(boom());
    expect(breaker.allow()).toBe(false);
    advance(999);
    expect(breaker.allow()).toBe(false);
    advance(1);
    expect(breaker.allow()).toBe(true);
  });

  it('half-open: exactly one probe is let through while it is outstanding', () => {
    const { breaker, advance } = breakerFor(1, 1_000);
    breaker.failure(boom());
    advance(1_000);
    expect(breaker.allow()).toBe(true); // the probe
    expect(breaker.allow()).toBe(false);
    advance(60_000);
    expect(breaker.allow()).toBe(false); // still waiting for the probe's outcome
    expect(breaker.isOpen).toBe(true);
  });

  it('a probe that succeeds closes the circuit (notifying once): everything is let through again', () => {
    const { breaker, changes, advance } = breakerFor(1, 1_000);
    breaker.failure(boom());
    advance(1_000);
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.isOpen).toBe(false);
    expect(changes.map((c) => c.open)).toEqual([true, false]);
    expect([breaker.allow(), breaker.allow(), breaker.allow()]).toEqual([true, true, true]);
  });

  it('a probe that fails reopens the circuit for another full resetTimeout, without a second "open" notification', () => {
    const { breaker, changes, advance } = breakerFor(1, 1_000);
    breaker.failure(boom());
    advance(1_000);
    expect(breaker.allow()).toBe(true);
    breaker.failure(boom());
    expect(breaker.isOpen).toBe(true);
    expect(breaker.allow()).toBe(false);
    advance(999);
    expect(breaker.allow()).toBe(false); // timed from the probe's failure, not the first opening
    advance(1);
    expect(breaker.allow()).toBe(true); // the next probe
    expect(changes.map((c) => c.open)).toEqual([true]);
    expect(breaker.failures).toBe(2);
  });

  it('a probe that fails with a higher threshold still reopens at once (one failed probe is enough)', () => {
    const { breaker, advance } = breakerFor(5, 1_000);
    for (let i = 0; i < 5; i++) breaker.failure(boom(i));
    advance(1_000);
    expect(breaker.allow()).toBe(true);
    breaker.failure(boom());
    expect(breaker.allow()).toBe(false);
    expect(breaker.isOpen).toBe(true);
  });

  it('a new outage after recovery needs failureThreshold consecutive failures again', () => {
    const { breaker, changes, advance } = breakerFor(2, 1_000);
    breaker.failure(boom());
    breaker.failure(boom());
    advance(1_000);
    breaker.allow();
    breaker.success();
    breaker.failure(boom());
    expect(breaker.isOpen).toBe(false);
    breaker.failure(boom());
    expect(breaker.isOpen).toBe(true);
    expect(changes.map((c) => c.open)).toEqual([true, false, true]);
  });
});
