import type { Redis } from 'ioredis';
import { Deadlines } from './deadlines.js';

/** `forRoot({ redis })`: an ioredis client (the application's; it stays the application's to close), or a URL. */
export type RedisOption = Redis | string;

/** What a guarded command answers when Redis did not: down, not connected, or slower than the store timeout. */
export const UNANSWERED = Symbol('unanswered');

/**
 * The module's connections to Redis for the bus and fleet-wide flights: one for commands (the
 * application's client, or one made from the URL) and its duplicate for the subscription (a
 * subscribed connection runs no other commands). Every command is guarded like a store
 * operation: a Redis that is down or slow answers UNANSWERED at once or after the store
 * timeout, never an error, so the cache is never the outage.
 */
export class RedisLink {
  readonly commands: Redis;
  readonly subscriber: Redis;
  private readonly deadlines: Deadlines;

  /** Connects to `option` when it is a URL (ioredis is loaded then only: applications without Redis need not install it). */
  static async connect(option: RedisOption, timeout: number): Promise<RedisLink> {
    if (typeof option !== 'string') return new RedisLink(option, false, timeout);
    const { Redis } = await import('ioredis');
    // No retries per command, no queue while offline: a command Redis cannot take now fails now.
    return new RedisLink(new Redis(option, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true }), true, timeout);
  }

  private constructor(
    client: Redis,
    private readonly owned: boolean,
    private readonly timeout: number,
  ) {
    this.commands = client;
    // Connected in open(): an application that fails to start leaves no connection behind.
    this.subscriber = this.commands.duplicate({ maxRetriesPerRequest: 0, lazyConnect: true });
    // ioredis reports connection errors as events; without a listener Node would treat them as fatal. The bus logs outages.
    this.subscriber.on('error', noop);
    if (this.owned) this.commands.on('error', noop);
    this.deadlines = Deadlines.for(timeout);
  }

  get ready(): boolean {
    return this.commands.status === 'ready';
  }

  /** Runs a command when connected, within the store timeout; UNANSWERED otherwise. */
  run<T>(command: (redis: Redis) => Promise<T>): Promise<T | typeof UNANSWERED> {
    if (!this.ready) return Promise.resolve(UNANSWERED);
    return this.guarded(this.commands, command);
  }

  /** Whether the subscription answers a PING within the store timeout: an open connection may still be stalled. */
  async subscriptionAnswers(): Promise<boolean> {
    return (await this.guarded(this.subscriber, (redis) => redis.ping())) !== UNANSWERED;
  }

  private guarded<T>(redis: Redis, command: (redis: Redis) => Promise<T>): Promise<T | typeof UNANSWERED> {
    return new Promise((resolve) => {
      const deadline = this.deadlines.add(this.timeout, () => resolve(UNANSWERED));
      let started: Promise<T>;
      try {
        started = command(redis);
      } catch {
        deadline.cancel();
        return resolve(UNANSWERED);
      }
      started.then(
        (value) => (deadline.cancel(), resolve(value)),
        () => (deadline.cancel(), resolve(UNANSWERED)),
      );
    });
  }

  /** Connects what the module made; never waits, never fails: until Redis answers, the bus is down and flights are local. */
  open(): void {
    const connect = (redis: Redis) => redis.status === 'wait' && redis.connect().catch(noop);
    connect(this.subscriber);
    if (this.owned) connect(this.commands);
  }

  /** Closes the subscription, and the command connection when the module made it. */
  async close(): Promise<void> {
    await Promise.all([quit(this.subscriber), this.owned ? quit(this.commands) : undefined]);
  }
}

/** QUIT when connected (pending replies arrive first), else drop the connection. */
async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

const noop = () => undefined;
