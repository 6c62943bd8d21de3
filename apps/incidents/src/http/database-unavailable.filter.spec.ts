import { type ArgumentsHost, type HttpServer, Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';

function answer(driverError: object) {
  const adapter = { reply: jest.fn(), setHeader: jest.fn(), isHeadersSent: jest.fn(() => false), end: jest.fn() };
  const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => ({}), getRequest: () => ({}) }), getArgByIndex: () => ({}) } as unknown as ArgumentsHost;
  new DatabaseUnavailableFilter(adapter as unknown as HttpServer).catch(new QueryFailedError('SELECT 1', [], driverError as Error), host);
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

  it('any other database error is left to Nest (a 500)', () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined); // Nest logs it; not here
    const adapter = answer(Object.assign(new Error('relation does not exist'), { code: '42P01' }));
    expect(adapter.reply).toHaveBeenCalledWith({}, expect.objectContaining({ statusCode: 500 }), 500);
  });
});
