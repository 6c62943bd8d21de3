/** A promise the test settles by hand: holds a loader until the test has counted the waiters. */
export interface Latch<T = void> {
  promise: Promise<T>;
  release(value: T): void;
  fail(error: unknown): void;
}

export function latch<T = void>(): Latch<T> {
  let release!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => ((release = resolve), (fail = reject)));
  return { promise, release, fail };
}

/** Lets every queued microtask and timer-free continuation run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits (bounded) until `condition` holds: for loaders that first wait on a real server. */
export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
