// Stale reads after acknowledged writes. Each hot id has one writer at a time (writes are
// serialised per id), and every PATCH sets a title carrying the next version of that id, so
// versions are acknowledged in order. A read that STARTED after version v was acknowledged and
// shows a version < v is stale: the cache served what an acknowledged write had replaced.
// One clock (performance.now() of this process) orders acknowledgements and read starts, for
// requests to either instance.

const TITLE = /^chaos v(\d+) /;

/** The version in a title; the seed's titles are version 0. */
export const versionOf = (title: string): number => Number(TITLE.exec(title)?.[1] ?? 0);

export const titleFor = (id: string, version: number): string => `chaos v${version} ${id.slice(0, 8)}`;

interface Ack {
  version: number;
  at: number;
  phase: string;
  /** The instance that acknowledged it. */
  writer: string;
}

export interface StaleRead {
  /** When the read started. */
  t: number;
  phase: string;
  kind: 'get' | 'list';
  instance: string;
  id: string;
  got: number;
  expected: number;
  /** How long before the read started the expected version was acknowledged. */
  ackedAgoMs: number;
  /** The phase whose write the read missed, and the instance that acknowledged that write. */
  writtenIn: string;
  writer: string;
}

export class VersionLedger {
  private readonly issued = new Map<string, number>();
  private readonly acks = new Map<string, Ack[]>();
  private readonly writing = new Set<string>();
  readonly stale: StaleRead[] = [];
  /** PATCHes that failed without an answer we can trust: the write may or may not have happened. */
  unknownOutcomes = 0;

  /** The version to write to `id` now, or undefined while another write of it is in flight. */
  beginWrite(id: string): number | undefined {
    if (this.writing.has(id)) return undefined;
    this.writing.add(id);
    const version = (this.issued.get(id) ?? 0) + 1;
    this.issued.set(id, version);
    return version;
  }

  /** `acked`: the PATCH answered 2xx, at `at` (after its body was read). */
  endWrite(id: string, version: number, outcome: 'acked' | 'rejected' | 'unknown', at: number, phase: string, writer: string): void {
    this.writing.delete(id);
    if (outcome === 'unknown') this.unknownOutcomes++;
    if (outcome !== 'acked') return;
    let list = this.acks.get(id);
    if (!list) this.acks.set(id, (list = []));
    list.push({ version, at, phase, writer });
  }

  /** The highest version of `id` acknowledged strictly before `t`. */
  private ackedBefore(id: string, t: number): Ack | undefined {
    const list = this.acks.get(id);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (list[i].at < t) return list[i];
    return undefined;
  }

  lastAcked(id: string): Ack | undefined {
    return this.acks.get(id)?.at(-1);
  }

  /** Checks one id's title seen by a read that started at `startedAt`; records it if stale. */
  check(kind: StaleRead['kind'], id: string, title: string, startedAt: number, phase: string, instance: string): boolean {
    const ack = this.ackedBefore(id, startedAt);
    if (!ack) return false;
    const got = versionOf(title);
    if (got >= ack.version) return false;
    this.stale.push({ t: startedAt, phase, kind, instance, id, got, expected: ack.version, ackedAgoMs: startedAt - ack.at, writtenIn: ack.phase, writer: ack.writer });
    return true;
  }

  staleIn(phase: string, kind?: StaleRead['kind']): StaleRead[] {
    return this.stale.filter((s) => s.phase === phase && (!kind || s.kind === kind));
  }

  /**
   * Ids whose row in the database holds an older version than the last acknowledged one: a
   * write lost or reordered in the database itself, not a cache fault (reported apart, so a stale
   * read is never blamed on the cache when the database agrees with it).
   */
  lostWrites(titles: Map<string, string>): { id: string; inDb: number; acked: number }[] {
    const lost: { id: string; inDb: number; acked: number }[] = [];
    for (const [id, list] of this.acks) {
      const inDb = versionOf(titles.get(id) ?? '');
      const acked = list.at(-1)!.version;
      if (inDb < acked) lost.push({ id, inDb, acked });
    }
    return lost;
  }
}
