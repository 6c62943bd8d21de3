import { CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, type INestApplication, Param, Post, Query, UseInterceptors } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CacheEvict, Cached, CachedInterceptor, FlightRegistry, SingleFlight, SingleFlightModule } from '@app/single-flight';
import { latch, until, type Latch } from './support/latch.js';

const state = { calls: 0, version: 1, gate: undefined as Latch | undefined };

@Controller('items')
@UseInterceptors(CachedInterceptor)
class ItemsController {
  @Get(':id')
  @Cached({ tags: ['items'] })
  @SingleFlight()
  async get(@Param('id') id: string, @Query('view') view?: string) {
    state.calls++;
    await state.gate?.promise;
    return { id, view, version: state.version, at: new Date(0) };
  }

  @Post()
  @CacheEvict({ tags: ['items'] })
  async create() {
    state.version++;
    return { version: state.version };
  }
}

@Controller('plain')
class PlainController {
  @Get(':id')
  @Cached()
  @SingleFlight()
  async get(@Param('id') id: string) {
    state.calls++;
    return { id };
  }
}

describe('CachedInterceptor on controller handlers', () => {
  let app: INestApplication;
  beforeEach(async () => {
    state.calls = 0;
    state.version = 1;
    state.gate = undefined;
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot({})],
      controllers: [ItemsController, PlainController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterEach(() => app.close());

  it('coalesces a burst of 50 concurrent requests into one handler call', async () => {
    state.gate = latch();
    const server = request(app.getHttpServer());
    const responses = Array.from({ length: 50 }, () => server.get('/items/1').then((r) => r));
    await until(() => app.get(FlightRegistry).waiters('sf:ItemsController.get:[{"id":"1"},{}]') === 50);
    expect(state.calls).toBe(1);
    state.gate.release();
    for (const response of await Promise.all(responses)) {
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ id: '1', version: 1, at: new Date(0).toISOString() });
    }
    await server.get('/items/1').expect(200);
    expect(state.calls).toBe(1);
  });

  it('keys by route params and query', async () => {
    const server = request(app.getHttpServer());
    await server.get('/items/1').expect(200);
    await server.get('/items/2').expect(200);
    await server.get('/items/1?view=full').expect(200);
    await server.get('/items/1?view=full').expect(200);
    expect(state.calls).toBe(3);
  });

  it('evicts by tags on a POST handler, before the response is sent', async () => {
    const server = request(app.getHttpServer());
    await server.get('/items/1').expect(200);
    await server.post('/items').expect(201);
    const after = await server.get('/items/1').expect(200);
    expect(after.body.version).toBe(2);
    expect(state.calls).toBe(2);
  });

  it('leaves controllers to the interceptor: the explorer does not wrap them', async () => {
    const server = request(app.getHttpServer());
    await Promise.all([server.get('/plain/1'), server.get('/plain/1')]);
    await server.get('/plain/1');
    expect(state.calls).toBe(3);
  });
});
