/**
 * A Keyv store (Map-backed) whose operations take effect only when the test delivers them, in
 * the order it chooses: each operation is linearised at its delivery, as a server would apply a
 * command whenever it reaches it. `getMany` reads all its keys at once, as Redis MGET does.
 */
export class ScheduledStore {
  readonly data = new Map<string, unknown>();
  private readonly pending: (() => void)[] = [];

  get size(): number {
    return this.pending.length;
  }

  /** Applies the pending operation at `index` (taken modulo the number pending); false if none. */
  deliver(index: number): boolean {
    if (this.pending.length === 0) return false;
    const [apply] = this.pending.splice(index % this.pending.length, 1);
    apply();
    return true;
  }

  private schedule<T>(operation: () => T): Promise<T> {
    return new Promise((resolve) => this.pending.push(() => resolve(operation())));
  }

  get(key: string) {
    return this.schedule(() => this.data.get(key));
  }
  getMany(keys: string[]) {
    return this.schedule(() => keys.map((key) => this.data.get(key)));
  }
  set(key: string, value: unknown) {
    return this.schedule(() => (this.data.set(key, value), true));
  }
  delete(key: string) {
    return this.schedule(() => this.data.delete(key));
  }
  clear() {
    return this.schedule(() => this.data.clear());
  }
  on() {
    return this;
  }
}
