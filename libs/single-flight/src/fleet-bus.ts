import type { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { messageOf } from './errors.js';
import { UNANSWERED, type RedisLink } from './redis-link.js';

/** What instances tell each other, on one Redis pub/sub channel under the key prefix. */
type BusMessage =
  /** Tags just invalidated (their new tokens are in the store already). */
  | { from: string; evicted: string[] }
  /** A fleet-wide flight of this key ended (filled, or failed): its waiters may read, or take over. */
  | { from: string; settled: string };

export interface BusListener {
  /** Another instance invalidated these tags. */
  evicted(tags: readonly string[]): void;
  /** A fleet-wide flight of `key` ended, in any instance. */
  settled(key: string): void;
  /** The subscription was lost (`up` false: messages may be missed from now on) or is back. */
  connection(up: boolean): void;
}

/** How often the subscription is asked to answer a PING (ms). */
export const BUS_HEARTBEAT = 1_000;

/**
 * The invalidation bus (bentocache's bus, in spirit; Redis pub/sub). Delivery is at most once, so
 * what matters is knowing when it may have failed: `connected` is true only between a confirmed
 * SUBSCRIBE and the next loss of the connection, and the listener hears of both. A connection can
 * also stall without closing (a network path that drops packets, a half-open socket): the
 * subscription answers a PING every BUS_HEARTBEAT ms, and one that does not answer within the
 * store timeout counts as lost, and is reconnected.
 */
export class FleetBus {
  /** This instance, so it can ignore its own messages. */
  readonly id = randomBytes(8).toString('base64url');
  private subscribed = false;
  /** Lost since it was last subscribed: its return is logged. */
  private wasLost = false;
  private stopped = false;
  private listener?: BusListener;
  private heartbeat?: ReturnType<typeof setInterval>;
  private beating = false;

  constructor(
    private readonly link: RedisLink,
    readonly channel: string,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.subscribed;
  }

  /** Subscribes now and after every reconnection. Never waits: until it is subscribed, `connected` is false. */
  start(listener: BusListener): void {
    this.listener = listener;
    const { subscriber } = this.link;
    subscriber.on('message', (channel: string, text: string) => channel === this.channel && this.receive(text));
    subscriber.on('ready', () => void this.subscribe());
    for (const event of ['close', 'end']) subscriber.on(event, () => this.lost());
    if (subscriber.status === 'ready') void this.subscribe();
  }

  stop(): void {
    this.stopped = true;
    this.subscribed = false;
    clearInterval(this.heartbeat);
  }

  /** Whether Redis took the message (not whether anyone heard it: nobody may be listening). */
  async publish(message: { evicted: readonly string[] } | { settled: string }): Promise<boolean> {
    const text = this.message(message);
    return (await this.link.run((redis) => redis.publish(this.channel, text))) !== UNANSWERED;
  }

  /** A message as published, for a script that publishes it itself. */
  message(message: { evicted: readonly string[] } | { settled: string }): string {
    return JSON.stringify({ from: this.id, ...message });
  }

  private async subscribe(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.link.subscriber.subscribe(this.channel);
    } catch (error) {
      // The next 'ready' tries again.
      this.logger.warn(`Cache bus: could not subscribe to "${this.channel}" (${messageOf(error)}): the local tier is bypassed until it can`);
      return;
    }
    if (this.subscribed || this.stopped || this.link.subscriber.status !== 'ready') return;
    this.subscribed = true;
    // From the first subscription on: an application that fails to start leaves no timer behind.
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => void this.beat(), BUS_HEARTBEAT);
      this.heartbeat.unref();
    }
    if (this.wasLost) this.logger.log(`Cache bus: subscribed to "${this.channel}" again: the local tier, cleared, is in use again`);
    this.wasLost = false;
    this.listener?.connection(true);
  }

  private lost(why = 'lost'): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.wasLost = true;
    if (!this.stopped) this.logger.warn(`Cache bus: subscription to "${this.channel}" ${why}: the local tier is bypassed until it is back`);
    this.listener?.connection(false);
  }

  /** A subscription that stopped answering is as good as lost: it is dropped and made again (ioredis reconnects, 'ready' resubscribes). */
  private async beat(): Promise<void> {
    if (!this.subscribed || this.beating) return;
    this.beating = true;
    try {
      if (await this.link.subscriptionAnswers()) return;
    } finally {
      this.beating = false;
    }
    if (!this.subscribed || this.stopped) return;
    this.lost('did not answer a PING in time');
    this.link.subscriber.disconnect(true);
  }

  /** Anyone with access to Redis can publish here: a message that is not one of ours is ignored. */
  private receive(text: string): void {
    let message: Partial<BusMessage & { evicted: unknown; settled: unknown }>;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || message.from === this.id) return;
    if (Array.isArray(message.evicted)) {
      const tags = message.evicted.filter((tag): tag is string => typeof tag === 'string');
      if (tags.length > 0) this.listener?.evicted(tags);
    } else if (typeof message.settled === 'string') {
      this.listener?.settled(message.settled);
    }
  }
}
