// The load: `connections` loops for a fixed time, split evenly across the instances, each sending
// one request at a time (list, get, stats, create, update by MIX). After every acknowledged PATCH
// the loop reads the incident back from BOTH instances at once, and after every LIST_CHECK_EVERY-th
// one the lists of its new and old filters too: those reads are the stale-read checks.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Target } from './http-client.js';
import { Latencies } from './latency.js';
import { CHECK_READS, checkNewList, checkOldList, differences, recordCheck, staleTally, type CheckKind, type Role, type StaleTally, type Written } from './stale-checks.js';
import { listPath, pickOperation, SEVERITIES, type Catalog, type Incident, type Mix, type Operation } from './workload-mix.js';
import { seededRandom } from './zipf.js';

/** Every LIST_CHECK_EVERY-th acknowledged PATCH of a loop is also checked in the lists. */
const LIST_CHECK_EVERY = 3;
const CHECK_LIST_LIMIT = 100;
/** Pauses between the reads again of a stale check (ms): about a second in all. */
const RECHECK_DELAYS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 600];
/** Draws of an incident to PATCH before giving up (another loop is writing it) and reading instead. */
const PICK_TRIES = 4;

/** Request classes: the reads and writes of the mix, and the check reads after a write. */
export const READ_CLASSES = ['list', 'get', 'stats', 'check id', 'check list'];
export const WRITE_CLASSES = ['create', 'update'];

export interface DriverOptions {
  targets: Target[];
  connections: number;
  durationMs: number;
  catalog: Catalog;
  mix: Mix;
  seed: number;
  requestTimeoutMs: number;
  /** A bound on each loop's requests besides the time. */
  maxRequestsPerLoop: number;
}

export interface DriverResult {
  requests: number;
  elapsedMs: number;
  latencies: Latencies;
  /** Answers other than 2xx and network errors, by `class status` or `class error`. */
  failures: Map<string, number>;
  updates: { sent: number; acknowledged: number; listChecked: number };
  creates: { sent: number; acknowledged: number; listChecked: number };
  stale: StaleTally;
}

export class Driver {
  requests = 0;
  private readonly latencies = new Latencies();
  private readonly failures = new Map<string, number>();
  private readonly stale = staleTally();
  private readonly busy = new Set<string>(); // incidents a loop is writing or checking
  private readonly updates = { sent: 0, acknowledged: 0, listChecked: 0 };
  private readonly creates = { sent: 0, acknowledged: 0, listChecked: 0 };
  private stopped = false;

  constructor(private readonly options: DriverOptions) {}

  /** Ends the loops early (SIGINT): each finishes its request in flight. */
  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<DriverResult> {
    const started = performance.now();
    const deadline = started + this.options.durationMs;
    const { targets, connections } = this.options;
    await Promise.all(Array.from({ length: connections }, (_, i) => this.loop(i, targets[i % targets.length], targets.filter((_, j) => j !== i % targets.length), deadline)));
    return {
      requests: this.requests,
      elapsedMs: performance.now() - started,
      latencies: this.latencies,
      failures: this.failures,
      updates: this.updates,
      creates: this.creates,
      stale: this.stale,
    };
  }

  private async loop(index: number, home: Target, others: Target[], deadline: number): Promise<void> {
    const random = seededRandom(this.options.seed * 1_000 + index);
    let updates = 0;
    for (let n = 0; n < this.options.maxRequestsPerLoop && !this.stopped && performance.now() < deadline; n++) {
      const op = pickOperation(this.options.mix, random);
      if (op === 'update') {
        const incident = this.pickForWrite(random);
        if (incident) {
          this.busy.add(incident.id);
          try {
            await this.update(home, others, incident, random, `${this.options.seed}.${index}-${n}`, ++updates % LIST_CHECK_EVERY === 0);
          } finally {
            this.busy.delete(incident.id);
          }
          continue;
        }
      }
      if (op === 'create') await this.create(home, others, random, `${this.options.seed}.${index}-${n}`);
      else await this.read(home, op === 'update' ? 'get' : op, random);
    }
  }

  private pickForWrite(random: () => number): Incident | undefined {
    for (let i = 0; i < PICK_TRIES; i++) {
      const incident = this.options.catalog.incidents.draw(random);
      if (!this.busy.has(incident.id) && !incident.uncertain) return incident;
    }
    return undefined;
  }

  /** One request, timed and counted; undefined on a network error or timeout. */
  private async send(target: Target, cls: string, method: string, path: string, body?: unknown) {
    this.requests++;
    try {
      const response = await target.send(method, path, body, this.options.requestTimeoutMs);
      this.latencies.add(cls, response.ms);
      if (response.status < 200 || response.status > 299) this.count(`${cls} ${response.status}`);
      return response;
    } catch (error) {
      this.count(`${cls} ${(error as Error).message.replace(/\/incidents\S*/, '/incidents/…')}`);
      return undefined;
    }
  }

  private count(key: string): void {
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  private async read(target: Target, op: Exclude<Operation, 'update' | 'create'>, random: () => number): Promise<void> {
    const { catalog } = this.options;
    if (op === 'list') await this.send(target, 'list', 'GET', listPath(catalog.lists.draw(random)));
    else if (op === 'get') await this.send(target, 'get', 'GET', `/incidents/${catalog.incidents.draw(random).id}`);
    else await this.send(target, 'stats', 'GET', '/incidents/stats');
  }

  /** A POST; after every third acknowledged one, the list of its filters on every instance must show it. */
  private async create(home: Target, others: Target[], random: () => number, tag: string): Promise<void> {
    const { catalog } = this.options;
    this.creates.sent++;
    const body = {
      namespace: catalog.namespaces[Math.floor(random() * catalog.namespaces.length)],
      severity: SEVERITIES[Math.floor(random() * SEVERITIES.length)],
      title: `Workload incident ${tag}`,
    };
    const response = await this.send(home, 'create', 'POST', '/incidents', body);
    if (!response || response.status !== 201) return;
    const acknowledged = performance.now();
    if (++this.creates.acknowledged % LIST_CHECK_EVERY !== 0) return;
    this.creates.listChecked++;
    const created = JSON.parse(response.body) as { id: string; createdAt: string; status: Incident['status'] };
    const incident: Incident = { ...body, id: created.id, status: created.status, createdAt: Date.parse(created.createdAt) };
    const written: Written = { title: body.title, severity: body.severity, status: created.status };
    const path = listPath({ namespace: incident.namespace, severity: incident.severity, status: incident.status, limit: CHECK_LIST_LIMIT, offset: 0 });
    const targets: [Target, Role][] = [[home, 'writer'], ...others.map((t): [Target, Role] => [t, 'other'])];
    await Promise.all(
      targets.map(([target, role]) =>
        this.check(target, role, 'created', path, (body) => checkNewList(incident, written, JSON.parse(body), CHECK_LIST_LIMIT), acknowledged, `POST on ${home.name}, read on ${target.name} (${CHECK_READS.created}) of ${incident.id}`),
      ),
    );
  }

  private async update(home: Target, others: Target[], incident: Incident, random: () => number, tag: string, checkLists: boolean): Promise<void> {
    this.updates.sent++;
    // The title always changes (so a stale copy is told apart); status and severity half the time each.
    const written: Written = { title: `${incident.title.replace(/ \(edit [^)]*\)$/, '')} (edit ${tag})` };
    if (random() < 0.5) written.status = incident.status === 'open' ? 'resolved' : 'open';
    if (random() < 0.5) written.severity = SEVERITIES.filter((s) => s !== incident.severity)[Math.floor(random() * (SEVERITIES.length - 1))];
    const response = await this.send(home, 'update', 'PATCH', `/incidents/${incident.id}`, written);
    if (!response || response.status < 200 || response.status > 299) {
      incident.uncertain = true; // it may or may not have been written: the driver no longer knows its values
      return;
    }
    this.updates.acknowledged++;
    const acknowledged = performance.now();
    const before = { ...incident };
    Object.assign(incident, written);
    const targets: [Target, Role][] = [[home, 'writer'], ...others.map((t): [Target, Role] => [t, 'other'])];
    const check = (target: Target, role: Role, kind: CheckKind, path: string, judge: (body: string) => string) =>
      this.check(target, role, kind, path, judge, acknowledged, `PATCH on ${home.name}, read on ${target.name} (${CHECK_READS[kind]}) of ${incident.id}`);

    // Right away, on every instance at once: the incident by id.
    await Promise.all(
      targets.map(([target, role]) =>
        check(target, role, 'id', `/incidents/${incident.id}`, (body) => {
          const diff = differences(written, JSON.parse(body) as Record<string, unknown>);
          return diff.length ? `old values (${diff.join('; ')})` : 'fresh';
        }),
      ),
    );
    if (!checkLists) return;
    this.updates.listChecked++;
    const moved = before.status !== incident.status || before.severity !== incident.severity;
    const filters = (i: Incident) => ({ namespace: i.namespace, severity: i.severity, status: i.status, limit: CHECK_LIST_LIMIT, offset: 0 });
    await Promise.all(
      targets.flatMap(([target, role]) => [
        check(target, role, 'list new', listPath(filters(incident)), (body) => checkNewList(incident, written, JSON.parse(body), CHECK_LIST_LIMIT)),
        ...(moved ? [check(target, role, 'list old', listPath(filters(before)), (body) => checkOldList(incident, JSON.parse(body)))] : []),
      ]),
    );
  }

  /**
   * One check read, judged; a stale one is read again (after 1, 2, 5... ms, for at most about a
   * second) until it is fresh, to see how long the instance stayed stale after the write's answer.
   */
  private async check(target: Target, role: Role, kind: CheckKind, path: string, judge: (body: string) => string, acknowledged: number, what: string): Promise<void> {
    const cls = kind === 'id' ? 'check id' : 'check list';
    const read = await this.send(target, cls, 'GET', path);
    if (read?.status !== 200) return void this.stale.failed++;
    const outcome = judge(read.body);
    recordCheck(this.stale, role, kind, outcome, () => what);
    if (outcome === 'fresh' || outcome === 'unverifiable') return;
    for (const delay of RECHECK_DELAYS_MS) {
      await sleep(delay);
      const again = await this.send(target, cls, 'GET', path);
      const settled = again?.status === 200 ? judge(again.body) : undefined;
      if (settled === 'fresh' || settled === 'unverifiable') return void this.stale.freshAfterMs.push(performance.now() - acknowledged);
    }
    this.stale.freshAfterMs.push(Infinity); // still stale after about a second
  }
}
