import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { MAX_SIMULTANEOUS_REQUESTS, simultaneousRequests } from './simultaneous-requests.js';

const servers: { close(): unknown }[] = [];
afterEach(() => servers.splice(0).forEach((server) => server.close()));

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** An HTTP server that notes, per request, the turn of its event loop it came in. */
async function turnCountingServer(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  let turn = 0;
  let counting = true;
  const tick = () => setImmediate(() => (turn++, counting && tick()));
  tick();
  const turns: number[] = [];
  const server = createServer((req, res) => {
    if (req.url !== '/') turns.push(turn);
    handle(req, res);
  });
  const port = await listen(server);
  servers.push({ close: () => (counting = false) });
  return { port, turns };
}

describe('simultaneousRequests', () => {
  it('makes every request arrive in one turn of the server’s event loop, and reads every response', async () => {
    const { port, turns } = await turnCountingServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url }));
    });
    const outcomes = await simultaneousRequests(Array.from({ length: 200 }, (_, i) => ({ port, path: `/item/${i}` })));
    expect(outcomes).toHaveLength(200);
    expect(outcomes.every((outcome) => outcome.status === 200 && outcome.error === undefined && outcome.ms >= 0)).toBe(true);
    // Without waiting for the server to accept every connection, they would come in over ~200 turns.
    expect(new Set(turns).size).toBe(1);
  });

  it('splits requests across servers, in order, and keeps each status', async () => {
    const ok = await listen(createServer((_, res) => res.end('ok')));
    const missing = await listen(createServer((_, res) => ((res.statusCode = 404), res.end('no'))));
    const outcomes = await simultaneousRequests([{ port: ok, path: '/a' }, { port: missing, path: '/b' }, { port: ok, path: '/c' }]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([200, 404, 200]);
  });

  it('ends a request unanswered after timeoutMs, and counts a refused connection as a failure', async () => {
    const silent = await listen(createServer((req) => (req.url === '/' ? req.socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n') : undefined)));
    const closed = await listen(createTcpServer());
    servers.pop()!.close();
    const [late, refused] = await simultaneousRequests([{ port: silent, path: '/slow' }, { port: closed, path: '/x' }], { timeoutMs: 200, connectTimeoutMs: 1_000 });
    expect(late.status).toBeUndefined();
    expect(late.error).toBe('no response within 200 ms');
    expect(late.ms).toBeGreaterThanOrEqual(190);
    expect(refused.status).toBeUndefined();
    expect(refused.error).toBe('ECONNREFUSED');
  });

  it('fails a response cut short of its Content-Length, or larger than maxResponseBytes', async () => {
    const short = await listen(createTcpServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'))));
    const big = await listen(createServer((_, res) => res.end('x'.repeat(10_000))));
    const [cut, large] = await simultaneousRequests([{ port: short, path: '/' }, { port: big, path: '/big' }], { maxResponseBytes: 5_000 });
    expect(cut.error).toBe('body of 3 bytes, Content-Length 10');
    expect(large.error).toBe('response over 5000 bytes');
  });

  it('is bounded: at least one request, at most MAX_SIMULTANEOUS_REQUESTS, and paths that fit in a request line', async () => {
    await expect(simultaneousRequests([])).rejects.toThrow(RangeError);
    await expect(simultaneousRequests(Array.from({ length: MAX_SIMULTANEOUS_REQUESTS + 1 }, () => ({ port: 1, path: '/' })))).rejects.toThrow(`from 1 to ${MAX_SIMULTANEOUS_REQUESTS} requests, got ${MAX_SIMULTANEOUS_REQUESTS + 1}`);
    await expect(simultaneousRequests([{ port: 1, path: '/a b\r\nX: y' }])).rejects.toThrow(/no spaces or control characters/);
  });
});
