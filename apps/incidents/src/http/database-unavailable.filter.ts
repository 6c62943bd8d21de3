import { type ArgumentsHost, Catch, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { FlightTimeoutError } from '@app/single-flight';
import { QueryFailedError } from 'typeorm';

/** PostgreSQL cancelled the statement: statement_timeout (57014) or lock_timeout (55P03). */
const TIMED_OUT = new Set(['57014', '55P03']);

/**
 * The database could not be reached, or dropped the connection: the socket's errors, and
 * PostgreSQL's own (class 08, connection exceptions; 57P01-57P03, shutting down or starting).
 */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03']);

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** Why a request failed for the database's sake, if it did; undefined for anything else (a bug, a bad request). */
function unavailability(error: unknown): string | undefined {
  const code = error instanceof QueryFailedError ? codeOf(error.driverError) : codeOf(error);
  if (typeof code === 'string' && TIMED_OUT.has(code)) return 'The database did not answer in time; try again';
  if (typeof code === 'string' && (UNREACHABLE.has(code) || code.startsWith('08'))) return 'The database is unavailable; try again';
  // node-postgres, when the server or the network drops a connection it was using.
  if (error instanceof Error && /^Connection terminated/.test(error.message)) return 'The database is unavailable; try again';
  return undefined;
}

/**
 * A database that is busy (a statement PostgreSQL cancelled for taking too long) or unreachable is
 * not a bug: a 503 the client may retry, without the SQL or the address. So is a cached read whose
 * flight outlived its hard timeout (FlightTimeoutError, already a 503): both say when to retry.
 * Every other error goes to Nest's own handling.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return super.catch(error, host);
    const message = unavailability(error);
    if (message === undefined && !(error instanceof FlightTimeoutError)) return super.catch(error, host);
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef!;
    const response: unknown = host.switchToHttp().getResponse();
    if (!adapter.isHeadersSent(response)) adapter.setHeader(response, 'Retry-After', '1');
    if (message === undefined) return super.catch(error, host);
    adapter.reply(response, { statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message }, HttpStatus.SERVICE_UNAVAILABLE);
  }
}
