// A seeded PRNG and a Zipf-like sampler over ranks: P(rank k) ∝ 1 / k^s.

/** mulberry32: a tiny seeded PRNG, so every run draws the same sequence per loop. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Fisher-Yates with a seeded PRNG: which item gets which rank, the same every run. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Draws items by rank: the first is the most frequent, rank k has weight 1 / k^s. */
export class Zipf<T> {
  private readonly cdf: Float64Array;

  constructor(
    readonly items: readonly T[],
    readonly s = 1,
  ) {
    if (items.length === 0) throw new Error('Zipf: no items');
    this.cdf = new Float64Array(items.length);
    let sum = 0;
    for (let k = 0; k < items.length; k++) this.cdf[k] = sum += 1 / (k + 1) ** s;
    for (let k = 0; k < items.length; k++) this.cdf[k] /= sum;
  }

  /** The share of draws that fall on the `top` most frequent items. */
  share(top: number): number {
    return this.cdf[Math.min(top, this.items.length) - 1];
  }

  draw(random: () => number): T {
    const u = random();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return this.items[lo];
  }
}
