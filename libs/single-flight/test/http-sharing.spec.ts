import { jest } from '@jest/globals';
import { CacheModule } from '@nestjs/cache-manager';
import { Body, Controller, createParamDecorator, Get, Headers, type INestApplication, Inject, Logger, Param, Post, Req, Res, UseInterceptors, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClsModule, ClsService } from 'nestjs-cls';
import request from 'supertest';
import { CacheEvict, Cached, CachedInterceptor, SingleFlight, SingleFlightConfigError, SingleFlightModule } from '@app/single-flight';

// CachedInterceptor shares only what HTTP lets a shared cache share (RFC 9111).

const calls: string[] = [];

@Controller('items')
@UseInterceptors(CachedInterceptor)
class ItemsController {
  constructor(@Inject(ClsService) private readonly cls: ClsService) {}

  /** Whose items: decided by the credentials, which the URL does not show. */
  @Get('me')
  @Cached()
  @SingleFlight()
  async mine() {
    const user = this.cls.get<string>('user');
    calls.push(`mine:${user}`);
    return { user };
  }

  /** A search whose criteria come in the body. */
  @Post('search')
  @Cached()
  @SingleFlight()
  async search() {
    const body = this.cls.get<{ q: string }>('body');
    calls.push(`search:${body.q}`);
    return { q: body.q };
  }

  /** The key says how the answer varies: by user. */
  @Get('mine-keyed')
  @Cached({ key: (req: { headers: Record<string, string>; method: string }) => req.headers.authorization })
  @SingleFlight()
  async mineKeyed() {
    const user = this.cls.get<string>('user');
    calls.push(`keyed:${user}`);
    return { user };
  }

  @Get(':id')
  @Cached({ tags: ['items'] })
  async one(@Param('id') id: string) {
    calls.push(`one:${id}`);
    return { id };
  }

  @Post()
  @CacheEvict({ tags: ['items'] })
  async create() {
    calls.push('create');
    return {};
  }
}

describe('CachedInterceptor over HTTP shares only what a shared cache may', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ClsModule.forRoot({
          global: true,
          middleware: {
            mount: true,
            setup: (cls, req: { headers: Record<string, string>; body: unknown }) => {
              cls.set('user', req.headers.authorization ?? req.headers.cookie);
              cls.set('body', req.body);
            },
          },
        }),
        CacheModule.register({ isGlobal: true }),
        SingleFlightModule.forRoot({}),
      ],
      controllers: [ItemsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(() => app.close());
  beforeEach(() => (calls.length = 0));

  it('a request carrying Authorization is never served another user’s answer', async () => {
    const server = request(app.getHttpServer());
    expect((await server.get('/items/me').set('Authorization', 'Bearer alice')).body).toEqual({ user: 'Bearer alice' });
    expect((await server.get('/items/me').set('Authorization', 'Bearer bob')).body).toEqual({ user: 'Bearer bob' });
    expect(calls).toEqual(['mine:Bearer alice', 'mine:Bearer bob']);
  });

  it('nor is a request carrying a cookie', async () => {
    const server = request(app.getHttpServer());
    expect((await server.get('/items/me').set('Cookie', 'session=alice')).body).toEqual({ user: 'session=alice' });
    expect((await server.get('/items/me').set('Cookie', 'session=bob')).body).toEqual({ user: 'session=bob' });
    expect(calls).toHaveLength(2);
  });

  it('POST requests are neither cached nor coalesced: different bodies, different answers', async () => {
    const server = request(app.getHttpServer());
    const [a, b] = await Promise.all([server.post('/items/search').send({ q: 'disk' }), server.post('/items/search').send({ q: 'cpu' })]);
    expect([a.body, b.body]).toEqual([{ q: 'disk' }, { q: 'cpu' }]);
    expect((await server.post('/items/search').send({ q: 'disk' })).body).toEqual({ q: 'disk' });
    expect(calls.sort()).toEqual(['search:cpu', 'search:disk', 'search:disk']);
  });

  it('a key function says how the answer varies: then it is cached, per key', async () => {
    const server = request(app.getHttpServer());
    for (const user of ['alice', 'bob', 'alice', 'bob']) {
      expect((await server.get('/items/mine-keyed').set('Authorization', user)).body).toEqual({ user });
    }
    expect(calls).toEqual(['keyed:alice', 'keyed:bob']);
  });

  it('anonymous GET and HEAD requests are shared, and a POST still evicts', async () => {
    const server = request(app.getHttpServer());
    await server.get('/items/1').expect(200);
    await server.head('/items/1').expect(200);
    await server.get('/items/1').expect(200);
    await server.post('/items').expect(201);
    await server.get('/items/1').expect(200);
    expect(calls).toEqual(['one:1', 'create', 'one:1']);
  });
});

const CurrentUser = createParamDecorator((_: unknown, context) => context.switchToHttp().getRequest().user);

describe('handlers whose answer depends on what the default key cannot see', () => {
  const start = async (controller: Type) => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot({})],
      controllers: [controller],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  };

  @Controller('h') @UseInterceptors(CachedInterceptor) class ReadsHeaders { @Get() @Cached() async get(@Headers('accept-language') lang: string) { return lang; } }
  @Controller('b') @UseInterceptors(CachedInterceptor) class ReadsBody { @Post() @Cached() async get(@Body() body: unknown) { return body; } }
  @Controller('r') @UseInterceptors(CachedInterceptor) class ReadsRequest { @Get() @SingleFlight() async get(@Req() req: unknown) { return typeof req; } }
  @Controller('u') @UseInterceptors(CachedInterceptor) class ReadsUser { @Get() @Cached() async get(@CurrentUser() user: unknown) { return user; } }
  @Controller('s') @UseInterceptors(CachedInterceptor) class WritesResponse { @Get() @Cached({ key: () => 1 }) async get(@Res() res: { send(v: unknown): void }) { res.send('x'); } }

  it.each([
    ['@Headers()', ReadsHeaders, /ReadsHeaders\.get reads @Headers\(\), which its default key \(route params and query\) cannot see.*key function/],
    ['@Body()', ReadsBody, /ReadsBody\.get reads @Body\(\)/],
    ['@Req()', ReadsRequest, /ReadsRequest\.get reads @Req\(\)/],
    ['a custom parameter decorator', ReadsUser, /ReadsUser\.get reads a custom parameter decorator/],
    ['@Res()', WritesResponse, /WritesResponse\.get reads @Res\(\): a handler that writes the response itself cannot be cached/],
  ])('a handler that reads %s fails the start, naming it', async (_, controller, message) => {
    const started = start(controller);
    await expect(started).rejects.toThrow(SingleFlightConfigError);
    await expect(started).rejects.toThrow(message);
  });

  it('with a key function that names what it reads, it starts and caches per key', async () => {
    @Controller('h')
    @UseInterceptors(CachedInterceptor)
    class KeyedHeaders {
      calls = 0;
      @Get()
      @Cached({ key: (req: { headers: Record<string, string>; method: string }) => req.headers['accept-language'] })
      async get(@Headers('accept-language') lang: string) {
        this.calls++;
        return { lang };
      }
    }
    const app = await start(KeyedHeaders);
    const server = request(app.getHttpServer());
    for (const lang of ['fr', 'de', 'fr']) expect((await server.get('/h').set('Accept-Language', lang)).body).toEqual({ lang });
    expect(app.get(KeyedHeaders).calls).toBe(2);
    await app.close();
  });

  it('a decorated handler without CachedInterceptor is reported at start, naming it', async () => {
    @Controller('plain')
    class Unbound {
      @Get()
      @Cached()
      async get() {
        return 1;
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const app = await start(Unbound);
      expect(warn.mock.calls.flat().join('\n')).toMatch(/Unbound\.get is decorated, but CachedInterceptor is not bound to it/);
      await app.close();
    } finally {
      warn.mockRestore();
    }
  });

  it('binding it globally counts', async () => {
    @Controller('plain')
    class GloballyBound {
      @Get()
      @Cached()
      async get() {
        return 1;
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot({})],
        controllers: [GloballyBound],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      app.useGlobalInterceptors(app.get(CachedInterceptor));
      await app.init();
      expect(warn.mock.calls.flat().join('\n')).not.toMatch(/CachedInterceptor is not bound/);
      await app.close();
    } finally {
      warn.mockRestore();
    }
  });
});
