// One instance of the app in a process of its own, for the fleet case of `npm run demo`: started
// by FleetInstance (fleet-instances.ts), its configuration in DEMO_INSTANCE, driven over IPC.
// Not meant to be run by hand.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../bootstrap.js';
import type { ResolvedConfig } from '../../app.module.js';
import { readCounters, type FlightCounters } from './flight-counters.js';

/** Parent to instance. */
export type InstanceCommand = { command: 'counters' } | { command: 'close' };

/** Instance to parent. */
export type InstanceMessage = { event: 'ready'; port: number } | { event: 'failed'; message: string } | { event: 'counters'; counters: FlightCounters };

if (!process.send) throw new Error('fleet-instance needs an IPC channel: `npm run demo` forks it');
const send = (message: InstanceMessage) => (process.connected ? process.send!(message) : false);
const config = JSON.parse(process.env.DEMO_INSTANCE ?? 'null') as ResolvedConfig | null;
if (!config?.databaseUrl || !config.redisUrl) throw new Error('fleet-instance: DEMO_INSTANCE must hold the app configuration, with databaseUrl and redisUrl');

try {
  const app = await createApp(config, ['warn', 'error']);
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close().finally(() => process.exit(0)));
  // An orphan would keep its connections to PostgreSQL and Redis: leave with the parent.
  process.on('disconnect', () => void close());
  process.on('message', (message: InstanceCommand) => {
    if (message.command === 'counters') send({ event: 'counters', counters: readCounters(app) });
    else if (message.command === 'close') void close();
  });
  await app.listen(0, '127.0.0.1');
  send({ event: 'ready', port: (app.getHttpServer().address() as AddressInfo).port });
} catch (error) {
  send({ event: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
