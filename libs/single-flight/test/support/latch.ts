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
