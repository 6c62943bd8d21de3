import { type ArgumentsHost, type HttpServer, Logger, NotFoundException } from '@nestjs/common';
import { jest } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { FlightTimeoutError } from '@app/single-flight';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';

function answer(driverError: object, raw = false) {
  const adapter = { reply: jest.fn(), setHeader: jest.fn(), isHeadersSent: jest.fn(() => false), end: jest.fn() };
  const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => ({}), getRequest: () => ({}) }), getArgByIndex: () => ({}) } as unknown as ArgumentsHost;
  new DatabaseUnavailableFilter(adapter as unknown as HttpServer).catch(raw ? driverError : new QueryFailedError('SELECT 1', [], driverError as Error), host);
  return adapter;
}

describe('DatabaseUnavailableFilter', () => {
  it.each([
    ['57014', 'statement_timeout (query_canceled)'],
    ['55P03', 'lock_timeout (lock_not_available)'],
  ])('%s, %s, is a 503 to retry', (code) => {
    const adapter = answer(Object.assign(new Error('canceling statement'), { code }));
    expect(adapter.setHeader).toHaveBeenCalledWith({}, 'Retry-After', '1');
    expect(adapter.reply).toHaveBeenCalledWith({}, expect.objectContaining({ statusCode: 503 }), 503);
  });

  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a connection node-postgres saw dropped', new Error('Connection terminated unexpectedly')],
    ['the server shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['a connection exception (08006)', Object.assign(new Error('connection failure'), { code: '08006' })],
  ])('the database unreachable, %s, is a 503 to retry that does not show the address', (_, error) => {
    const adapter = answer(error, true);
    expect(adapter.setHeader).toHaveBeenCalledWith({}, 'Retry-After', '1');
    expect(adapter.reply).toHaveBeenCalledWith({}, { statusCode: 503, error: 'Service Unavailable', message: 'The database is unavailable; try again' }, 503);
  });

  it('a flight past its hard timeout stays the 503 Nest makes of it (no key in the body), with a Retry-After', () => {
    const adapter = answer(new FlightTimeoutError('IncidentsService.list:[...]', 5_000, 'flight'), true);
    expect(adapter.setHeader).toHaveBeenCalledWith({}, 'Retry-After', '1');
    expect(adapter.reply).toHaveBeenCalledWith({}, { statusCode: 503, error: 'Service Unavailable', message: 'The data did not arrive in time; try again' }, 503);
  });

  it('any other database error is left to Nest (a 500)', () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined); // Nest logs it; not here
    const adapter = answer(Object.assign(new Error('relation does not exist'), { code: '42P01' }));
    expect(adapter.reply).toHaveBeenCalledWith({}, expect.objectContaining({ statusCode: 500 }), 500);
  });

  it('an error that is not the database\'s is left to Nest, an HttpException included', () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    expect(answer(new TypeError('x is undefined'), true).reply).toHaveBeenCalledWith({}, expect.objectContaining({ statusCode: 500 }), 500);
    expect(answer(new NotFoundException('Incident 1 not found'), true).reply).toHaveBeenCalledWith({}, expect.objectContaining({ statusCode: 404 }), 404);
  });
});
