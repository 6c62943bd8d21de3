import type { INestApplication } from '@nestjs/common';
import { SingleFlightStats } from '@app/single-flight';
import { SqlStatementCounter } from '../../database/sql-statement-counter.js';

/** The method the demo's stampedes call (GET /incidents), as SingleFlightStats names it. */
export const LIST_SCOPE = 'IncidentsService.list';

/** What one instance of the app did for the list query: counters of this process, read as differences. */
export interface FlightCounters {
  /** SQL statements the app sent (its TypeORM logger), any query. */
  sql: number;
  /** Flights started: one per burst of concurrent callers of a key. */
  flights: number;
  /** Callers that joined a flight in progress instead of starting one. */
  joined: number;
  /** Times the method ran (the list query). */
  loads: number;
  /** Values served from the cache: local tier and shared store. */
  hits: number;
  /** Fleet-wide flights that found another instance loading the key and waited for its entry. */
  leaseWaits: number;
}

export function readCounters(app: INestApplication): FlightCounters {
  const list = app.get(SingleFlightStats).method(LIST_SCOPE);
  return {
    sql: app.get(SqlStatementCounter).count,
    flights: list.flights,
    joined: list.joined,
    loads: list.loads,
    hits: list.hits.local + list.hits.shared,
    leaseWaits: list.leaseWaits,
  };
}

export function countersSince(after: FlightCounters, before: FlightCounters): FlightCounters {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, value - before[name as keyof FlightCounters]])) as unknown as FlightCounters;
}

export function addCounters(a: FlightCounters, b: FlightCounters): FlightCounters {
  return Object.fromEntries(Object.entries(a).map(([name, value]) => [name, value + b[name as keyof FlightCounters]])) as unknown as FlightCounters;
}
