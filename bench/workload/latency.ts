// Latencies per request class, and their percentiles (nearest rank).

import { percentile } from '../percentile.js';

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class Latencies {
  private readonly byClass = new Map<string, number[]>();

  add(cls: string, ms: number): void {
    let list = this.byClass.get(cls);
    if (!list) this.byClass.set(cls, (list = []));
    list.push(ms);
  }

  classes(): string[] {
    return [...this.byClass.keys()];
  }

  /** Percentiles over the classes given (all when none). */
  summary(classes: string[] = this.classes()): Summary {
    const all = Float64Array.from(classes.flatMap((c) => this.byClass.get(c) ?? [])).sort();
    return { count: all.length, p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), max: all.at(-1) ?? NaN };
  }
}
