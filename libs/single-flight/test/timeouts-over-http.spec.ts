import { Controller, Get, Injectable, type INestApplication, Param, ServiceUnavailableException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { FlightTimeoutError, SingleFlight, SingleFlightModule } from '@app/single-flight';
import { captureWarnings } from './support/captured-logs.js';
import { latch, until, type Latch } from './support/latch.js';

/**
 * Issue 7, point 4: a flight past its hardTimeout rejects its callers with an error an HTTP layer
 * maps to 503 (Nest does, with no filter), logged once per flight, never once per caller.
 */

const logs = captureWarnings();
let hang: Latch;
let loads = 0;

@Injectable()
class Reports {
  @SingleFlight({ hardTimeout: 2_000 }) // long enough for 200 requests to arrive and join
  async report(id: string, signal?: AbortSignal): Promise<{ id: string }> {
    loads++;
    await Promise.race([hang.promise, new Promise((resolve) => signal?.addEventListener('abort', resolve))]);
    return { id };
  }

  @SingleFlight({ timeout: 50 })
  async slow(id: string): Promise<{ id: string }> {
    await hang.promise;
    return { id };
  }
}

@Controller('reports')
class ReportsController {
  constructor(private readonly reports: Reports) {}
  @Get(':id')
  report(@Param('id') id: string) {
    return this.reports.report(id, new AbortController().signal);
  }
  @Get('slow/:id')
  slow(@Param('id') id: string) {
    return this.reports.slow(id);
  }
}

describe('timeouts over HTTP', () => {
  let app: INestApplication;
  beforeEach(async () => {
    hang = latch();
    loads = 0;
    const moduleRef = await Test.createTestingModule({ imports: [SingleFlightModule.forRoot({})], providers: [Reports], controllers: [ReportsController] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterEach(async () => {
    hang.release();
    await app.close();
  });

  it('200 callers of a flight that hangs past its hardTimeout get 503s, whose body does not show the key; one line is logged for the flight, none per caller', async () => {
    const server = request(app.getHttpServer());
    const responses = await Promise.all(Array.from({ length: 200 }, () => server.get('/reports/secret-user-42')));
    expect(loads).toBe(1);
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(503));
    expect(responses[0].body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'The data did not arrive in time; try again' });
    expect(JSON.stringify(responses.map((r) => r.body))).not.toContain('secret-user-42');
    expect(logs).toEqual([expect.stringMatching(/^Flight ".*Reports\.report.*secret-user-42.*" did not settle within 2000 ms \(hardTimeout\).*the loader's AbortSignal was aborted \(200 callers waiting\)$/)]);
  });

  it("a caller's own timeout is a 503 too, logged by nobody (the flight goes on)", async () => {
    const response = await request(app.getHttpServer()).get('/reports/slow/7');
    expect(response.status).toBe(503);
    expect(logs).toEqual([]);
  });

  it('the error is a FlightTimeoutError and a ServiceUnavailableException, with the details in its message', async () => {
    const reports = app.get(Reports);
    const error = await reports.report('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlightTimeoutError);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    expect(error).toMatchObject({ name: 'FlightTimeoutError', kind: 'flight', ms: 2_000, message: expect.stringMatching(/did not settle within 2000 ms/) });
    expect((error as FlightTimeoutError).getStatus()).toBe(503);
    await until(() => logs.length === 1);
  });
});
