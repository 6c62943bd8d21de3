import { type ArgumentsHost, Catch, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { QueryFailedError } from 'typeorm';

/** PostgreSQL cancelled the statement: statement_timeout (57014) or lock_timeout (55P03). */
const TIMED_OUT = new Set(['57014', '55P03']);

/**
 * A statement PostgreSQL cancelled for taking too long is the database being busy, not a bug:
 * a 503 the client may retry, without the SQL. Every other error goes to Nest's own handling.
 */
@Catch(QueryFailedError)
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  override catch(error: QueryFailedError, host: ArgumentsHost): void {
    const code = (error.driverError as { code?: unknown } | undefined)?.code;
    if (host.getType() !== 'http' || typeof code !== 'string' || !TIMED_OUT.has(code)) return super.catch(error, host);
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef!;
    const response: unknown = host.switchToHttp().getResponse();
    adapter.setHeader(response, 'Retry-After', '1');
    adapter.reply(
      response,
      { statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message: 'The database did not answer in time; try again' },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}
