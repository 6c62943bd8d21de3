import type { RequestOutcome } from './simultaneous-requests.js';

/** The nearest-rank percentile `p` of ascending `sorted`; NaN when empty. */
export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

export interface OutcomeSummary {
  requests: number;
  /** No whole response, or a status other than 200. */
  errors: number;
  /** Of the requests answered (any status), from the release; undefined when none was. */
  p50?: number;
  p99?: number;
}

export function summarize(outcomes: readonly RequestOutcome[]): OutcomeSummary {
  const answered = outcomes
    .filter((outcome) => outcome.status !== undefined)
    .map((outcome) => outcome.ms)
    .sort((a, b) => a - b);
  return {
    requests: outcomes.length,
    errors: outcomes.filter((outcome) => outcome.status !== 200).length,
    p50: answered.length > 0 ? Math.round(percentile(answered, 50)) : undefined,
    p99: answered.length > 0 ? Math.round(percentile(answered, 99)) : undefined,
  };
}

/** The distinct failures, most frequent first, for one line under a table: `3 x ECONNRESET, 1 x status 503`. */
export function describeErrors(outcomes: readonly RequestOutcome[]): string {
  const counts = new Map<string, number>();
  for (const { status, error } of outcomes) {
    if (status === 200) continue;
    const reason = error ?? `status ${status}`;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts]
    .sort(([, a], [, b]) => b - a)
    .map(([reason, count]) => `${count} x ${reason}`)
    .join(', ');
}
