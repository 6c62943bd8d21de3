import { Redis } from 'ioredis';
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
  private readonly owned: boolean;
  private readonly deadlines: Deadlines;

  constructor(
    option: RedisOption,
    private readonly timeout: number,
  ) {
    this.owned = typeof option === 'string';
    // No retries per command, no queue while offline: a command Redis cannot take now fails now.
    this.commands = typeof option === 'string' ? new Redis(option, { maxRetriesPerRequest: 0, enableOfflineQueue: false }) : option;
    this.subscriber = this.commands.duplicate({ maxRetriesPerRequest: 0 });
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
    return new Promise((resolve) => {
      const deadline = this.deadlines.add(this.timeout, () => resolve(UNANSWERED));
      let started: Promise<T>;
      try {
        started = command(this.commands);
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
