import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from '../config/app-config.js';
import { IncidentEvent } from '../incidents/incident-event.entity.js';
import { CreateIncidentEvents1764115200000 } from './migrations/1764115200000-create-incident-events.js';
import { SqlStatementCounter } from './sql-statement-counter.js';

export const entities = [IncidentEvent];
export const migrations = [CreateIncidentEvents1764115200000];

@Module({})
export class DatabaseModule {
  /**
   * Schema by migrations, run at start; never `synchronize`. Every statement is bounded by
   * PostgreSQL's `statement_timeout`, so a loader waiting on a lock gives its connection back.
   */
  static forRoot(url: string, statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS): DynamicModule {
    const counter = new SqlStatementCounter();
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url,
          entities,
          migrations,
          migrationsRun: true,
          synchronize: false,
          logging: false,
          logger: counter,
          retryAttempts: 3,
          retryDelay: 500,
          // Options of pg's Pool: sent at connect, so it holds for every statement of the connection.
          extra: { statement_timeout: statementTimeoutMs },
        }),
      ],
      providers: [{ provide: SqlStatementCounter, useValue: counter }],
      exports: [SqlStatementCounter],
      global: true,
    };
  }
}
