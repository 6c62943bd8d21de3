// GET /metrics of the app (Prometheus text, OpenTelemetry's exporter): parsed into samples,
// differences between two scrapes, sums over series and instances, a histogram quantile.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One scrape: its samples, by `name{labels}` (the labels sorted, so the key is stable). */
export type Scrape = Map<string, Sample>;

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const unescape = (value: string) => value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

export function parsePrometheus(text: string): Scrape {
  const scrape: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key] = unescape(value);
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    const key = `${match[1]}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    scrape.set(key, { name: match[1], labels, value });
  }
  return scrape;
}

/** Reads an instance's /metrics, bounded in time. */
export async function scrape(baseUrl: string, timeoutMs = 5_000): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${baseUrl}/metrics: ${response.status}`);
  return parsePrometheus(await response.text());
}

/**
 * after - before, series by series (a series absent before counts from 0: a counter that did not
 * exist yet, such as db_client_connection_waits_total before the first wait).
 */
export function delta(before: Scrape, after: Scrape): Scrape {
  const out: Scrape = new Map();
  for (const [key, sample] of after) out.set(key, { ...sample, value: sample.value - (before.get(key)?.value ?? 0) });
  return out;
}

type LabelFilter = Record<string, string | ((value: string | undefined) => boolean)>;

const matches = (sample: Sample, filter: LabelFilter = {}) =>
  Object.entries(filter).every(([k, want]) => (typeof want === 'function' ? want(sample.labels[k]) : sample.labels[k] === want));

/** The sum of a metric's samples, over every scrape given (one per instance) and every series matching `filter`. */
export function sum(scrapes: Scrape[], name: string, filter?: LabelFilter): number {
  let total = 0;
  for (const s of scrapes) for (const sample of s.values()) if (sample.name === name && matches(sample, filter)) total += sample.value;
  return total;
}

/** sum() per value of one label. */
export function sumBy(scrapes: Scrape[], name: string, label: string, filter?: LabelFilter): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of scrapes) {
    for (const sample of s.values()) {
      if (sample.name !== name || !matches(sample, filter)) continue;
      const key = sample.labels[label] ?? '';
      out.set(key, (out.get(key) ?? 0) + sample.value);
    }
  }
  return out;
}

/** The largest value of a gauge over the scrapes (and series). */
export function max(scrapes: Scrape[], name: string): number {
  let m = 0;
  for (const s of scrapes) for (const sample of s.values()) if (sample.name === name) m = Math.max(m, sample.value);
  return m;
}

export interface HistogramQuantile {
  count: number;
  /** histogram_quantile's estimate: linear within the bucket it falls in (its unit: the metric's). */
  value: number;
  /** The upper bound of that bucket: the value is at most this. */
  bucketUpperBound: number;
}

/**
 * A quantile of a histogram's buckets (`<name>_bucket{le}`), summed over the scrapes and series
 * given, as PromQL's histogram_quantile computes it. Pass deltas to get the quantile of a window.
 * Undefined when the histogram counted nothing.
 */
export function histogramQuantile(scrapes: Scrape[], name: string, q: number): HistogramQuantile | undefined {
  const byBound = new Map<number, number>();
  for (const s of scrapes) {
    for (const sample of s.values()) {
      if (sample.name !== `${name}_bucket` || sample.labels.le === undefined) continue;
      const le = sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + sample.value);
    }
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0]); // cumulative counts
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count <= 0) return undefined;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [upper, cumulative] of buckets) {
    if (cumulative >= rank) {
      if (upper === Infinity) return { count, value: lower, bucketUpperBound: Infinity }; // as PromQL: the highest finite bound
      const inBucket = cumulative - below;
      const value = inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
      return { count, value, bucketUpperBound: upper };
    }
    lower = upper;
    below = cumulative;
  }
  return undefined;
}
