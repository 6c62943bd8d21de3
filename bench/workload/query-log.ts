// Preloaded into each app instance by the workload bench (bench-only; the app is not changed):
//   node --import @swc-node/register/esm-register --import <this file> apps/incidents/src/main.ts
// Wraps pg's Client.prototype.query and records every SELECT the app sends: a hash of its text and
// parameters (what makes two executions identical), a hash of its text alone (its shape, sent in
// full once, so the bench can tell a list from a get), and when it started and ended, on a clock
// both processes share (performance.timeOrigin + performance.now()). Batches go to the bench over
// the IPC channel of fork(); nothing is recorded without one, or without WORKLOAD_QUERY_LOG=1.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type pg from 'pg';

/** [hash of text + parameters, hash of text, start ms, end ms] (epoch ms, sub-ms precision). */
export type QueryRecord = [hash: string, shape: string, start: number, end: number];

export type QueryLogMessage =
  | { type: 'workload:queries'; pid: number; records: QueryRecord[]; shapes: [shape: string, text: string][] }
  | { type: 'workload:flushed'; id: number };

export type QueryLogCommand = { type: 'workload:flush'; id: number };

const FLUSH_EVERY_MS = 200;
const MAX_SHAPES = 10_000;

const now = () => performance.timeOrigin + performance.now();
const hash = (text: string) => createHash('sha1').update(text).digest('base64url').slice(0, 16);

function install(send: NonNullable<typeof process.send>): void {
  // pg as the app loads it: resolved from the app's root (the cwd), whichever checkout that is.
  const { Client } = createRequire(join(process.cwd(), 'package.json'))('pg') as typeof pg;
  const shapes = new Map<string, string>(); // text -> its hash
  let records: QueryRecord[] = [];
  let newShapes: [string, string][] = [];

  const flush = () => {
    if (records.length === 0 && newShapes.length === 0) return;
    send({ type: 'workload:queries', pid: process.pid, records, shapes: newShapes } satisfies QueryLogMessage);
    records = [];
    newShapes = [];
  };
  setInterval(flush, FLUSH_EVERY_MS).unref();
  process.on('message', (message: QueryLogCommand) => {
    if (message?.type !== 'workload:flush') return;
    flush();
    send({ type: 'workload:flushed', id: message.id } satisfies QueryLogMessage);
  });
  process.channel?.unref(); // the app's server keeps the process alive, not this channel

  const shapeOf = (text: string): string => {
    let shape = shapes.get(text);
    if (shape === undefined) {
      shape = hash(text);
      if (shapes.size < MAX_SHAPES) shapes.set(text, shape);
      newShapes.push([shape, text]);
    }
    return shape;
  };

  type Query = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;
  const original = Client.prototype.query as unknown as Query;
  const wrapped: Query = function (this: pg.Client, config, values, callback) {
    const text = typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || !/^\s*select\b/i.test(text)) return original.call(this, config, values, callback);
    const params = Array.isArray(values) ? values : (config as { values?: unknown } | null)?.values;
    const started = now();
    const record = () => records.push([hash(`${text}\u0000${JSON.stringify(params ?? [])}`), shapeOf(text), started, now()]);
    // The three forms pg accepts: (config, values, callback), (config, callback), a promise.
    const settle = (cb: unknown) => (typeof cb === 'function' ? (...args: unknown[]) => (record(), (cb as (...a: unknown[]) => unknown)(...args)) : cb);
    if (typeof values === 'function') return original.call(this, config, settle(values));
    if (typeof callback === 'function') return original.call(this, config, values, settle(callback));
    const result = original.call(this, config, values);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(record, record);
    return result;
  };
  Client.prototype.query = wrapped as unknown as typeof Client.prototype.query;
}

if (process.env.WORKLOAD_QUERY_LOG === '1' && process.send) install(process.send.bind(process));
