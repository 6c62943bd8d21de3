import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { metrics, type BatchObservableCallback } from '@opentelemetry/api';
import { DataSource } from 'typeorm';
import { SqlStatementCounter } from '../database/sql-statement-counter.js';

/** The part of pg's Pool read here (TypeORM's PostgresDriver keeps it as `master`). */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
  connect(...args: unknown[]): unknown;
}

const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/**
 * The database pool next to the cache's metrics, as OpenTelemetry's database semantic conventions
 * name them: connections by state, requests waiting for one, the pool's size, and how long each
 * checkout waited. Plus `db.client.connection.waits` (checkouts that found every connection busy:
 * the pool exhaustion the decision forbids) and the SQL statements sent (what caching saves).
 */
@Injectable()
export class DatabaseMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly meter = metrics.getMeter('incidents');
  private readonly connections = this.meter.createObservableUpDownCounter('db.client.connection.count', { description: 'Connections in the pool, by state (idle, used)', unit: '{connection}' });
  private readonly pending = this.meter.createObservableUpDownCounter('db.client.connection.pending_requests', { description: 'Checkouts waiting for a connection', unit: '{request}' });
  private readonly max = this.meter.createObservableUpDownCounter('db.client.connection.max', { description: 'Most connections the pool opens', unit: '{connection}' });
  private readonly statements = this.meter.createObservableCounter('db.client.statements', { description: 'SQL statements sent (transaction control left out)', unit: '{statement}' });
  private readonly waits = this.meter.createCounter('db.client.connection.waits', { description: 'Checkouts that found every connection busy and queued', unit: '{request}' });
  private readonly waitTime = this.meter.createHistogram('db.client.connection.wait_time', {
    description: 'Time to obtain a connection from the pool',
    unit: 's',
    advice: { explicitBucketBoundaries: WAIT_BUCKETS },
  });
  private observe?: BatchObservableCallback;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SqlStatementCounter,
  ) {}

  onApplicationBootstrap(): void {
    const pool = (this.dataSource.driver as unknown as { master?: PgPool }).master;
    if (!pool) return;
    const name = { 'db.client.connection.pool.name': this.dataSource.driver.database ?? 'incidents' };
    const idle = { ...name, 'db.client.connection.state': 'idle' };
    const used = { ...name, 'db.client.connection.state': 'used' };
    this.observe = (result) => {
      result.observe(this.connections, pool.idleCount, idle);
      result.observe(this.connections, pool.totalCount - pool.idleCount, used);
      result.observe(this.pending, pool.waitingCount, name);
      result.observe(this.max, pool.options.max ?? 10, name);
      result.observe(this.statements, this.sql.count, name);
    };
    this.meter.addBatchObservableCallback(this.observe, [this.connections, this.pending, this.max, this.statements]);
    this.timeCheckouts(pool, name);
  }

  onModuleDestroy(): void {
    if (this.observe) this.meter.removeBatchObservableCallback(this.observe, [this.connections, this.pending, this.max, this.statements]);
  }

  /** pg's Pool has no checkout event with a duration: its connect (TypeORM calls it with a callback) is timed here. */
  private timeCheckouts(pool: PgPool, name: Record<string, string>): void {
    const connect = pool.connect.bind(pool);
    pool.connect = (...args: unknown[]) => {
      const started = performance.now();
      if (pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? 10)) this.waits.add(1, name);
      const done = () => this.waitTime.record((performance.now() - started) / 1000, name);
      const callback = args[0];
      if (typeof callback === 'function') {
        return connect((...result: unknown[]) => {
          done();
          (callback as (...result: unknown[]) => void)(...result);
        });
      }
      return (connect() as Promise<unknown>).finally(done);
    };
  }
}
