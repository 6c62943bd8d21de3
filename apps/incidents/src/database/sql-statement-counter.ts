import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * A TypeORM logger that counts the SQL statements the app sends (TypeORM calls `logQuery` for
 * every statement, even with `logging: false`). The demo and the tests read it.
 */
export class SqlStatementCounter implements TypeOrmLogger {
  /** Statements sent so far, transaction control (BEGIN, COMMIT...) left out. Read it as a difference. */
  count = 0;

  logQuery(query: string): void {
    if (!/^(START TRANSACTION|BEGIN|COMMIT|ROLLBACK)/i.test(query)) this.count++;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
