// What each strategy of bench/peers.bench.ts provides: a read of one key through it, the same
// read with a failing loader, and a close.
import type { Loader, Row } from './loader.js';

export interface PeerContext {
  /** The benchmark's private redis-server. */
  redisUrl: string;
  redisHost: string;
  redisPort: number;
  loader: Loader;
  /** Unique per run: every strategy's keys live under a namespace of its own. */
  runId: string;
}

export interface Peer {
  /** The row for `key` through this strategy: the loader runs on a miss. */
  read(key: string): Promise<Row>;
  /** The same, with a loader that throws after its query. */
  readFailing(key: string): Promise<Row>;
  close(): Promise<void>;
}

export interface Strategy {
  /** Short, for progress lines. */
  id: string;
  /** As shown in the tables and the plots' legends. */
  label: string;
  start(context: PeerContext): Promise<Peer>;
}
