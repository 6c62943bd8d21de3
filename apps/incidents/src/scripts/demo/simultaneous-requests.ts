import { connect, type Socket } from 'node:net';

/**
 * GETs that reach the server together: every connection is opened and every request written but
 * for its last byte, and only once all are in place are the last bytes written, in one
 * synchronous loop. The server cannot start on any of them before then (a request without its
 * final CRLF is incomplete), and finds them all readable at once after: a stampede that no
 * client-side scheduling spreads out, unlike a load generator's connections that start as each
 * connects. Plain HTTP/1.1 over `node:net`, one request per connection (`Connection: close`, so
 * a response ends with its connection).
 *
 * "In place" means accepted by the server, not just connected: the kernel completes a connection
 * before the server takes it from its accept queue, and a Node.js server takes one per turn of
 * its event loop. Released then, N requests would be read over N turns, and the first could be
 * answered before the last is read. So, once every connection is open, one probe request per
 * server goes on a connection opened after them all: the accept queue is first in, first out, so
 * when the probe is answered (any status), the server has accepted every connection before it.
 */

export interface SimultaneousRequest {
  port: number;
  /** Path and query, e.g. `/incidents?limit=20`. */
  path: string;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RequestOutcome {
  /** The status of the response's status line; undefined without a whole response. */
  status?: number;
  /** From the release (the last bytes written) to the end of the response, or to the failure. */
  ms: number;
  /** Why there is no whole response: connect failure, timeout, connection closed early, ... */
  error?: string;
}

export interface SimultaneousOptions {
  /** Longest wait for every connection to open and be accepted, from the first connect (default 10 s). */
  connectTimeoutMs?: number;
  /** Longest a request may take from the release to the end of its response (default 30 s). */
  timeoutMs?: number;
  /** Largest response read; a larger one is cut off and counted as an error (default 1 MiB). */
  maxResponseBytes?: number;
  /**
   * Path of the probe that tells the server has accepted every connection (default `/`): any
   * answer will do, a 404 included, so it should be cheap and touch nothing being measured.
   */
  probePath?: string;
}

/** Connections opened at once at most: each takes a file descriptor here, and another on the server. */
export const MAX_SIMULTANEOUS_REQUESTS = 10_000;

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n/;

/** One connection, from its opening to its response (or failure). */
class PendingRequest {
  outcome?: RequestOutcome;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private releasedAt?: number;

  constructor(
    readonly socket: Socket,
    private readonly maxResponseBytes: number,
    private readonly done: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (this.bytes > this.maxResponseBytes) return this.fail(`response over ${this.maxResponseBytes} bytes`);
      this.chunks.push(chunk);
    });
    socket.on('end', () => this.finish());
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code ?? error.message));
    socket.on('close', () => this.fail('connection closed before the response'));
  }

  release(lastByte: Buffer, at: number): void {
    this.releasedAt = at;
    if (!this.outcome) this.socket.write(lastByte);
  }

  fail(reason: string): void {
    this.settle({ ms: this.elapsed(), error: reason });
    this.socket.destroy();
  }

  private finish(): void {
    const response = Buffer.concat(this.chunks);
    const head = STATUS_LINE.exec(response.subarray(0, 256).toString('latin1'));
    if (!head) return this.fail('no HTTP status line');
    const split = response.indexOf('\r\n\r\n');
    if (split < 0) return this.fail('response ended inside its headers');
    const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(response.subarray(0, split + 2).toString('latin1'));
    if (length && response.length - split - 4 !== Number(length[1])) return this.fail(`body of ${response.length - split - 4} bytes, Content-Length ${length[1]}`);
    this.settle({ status: Number(head[1]), ms: this.elapsed() });
    this.socket.end();
  }

  private settle(outcome: RequestOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.chunks.length = 0;
    this.done();
  }

  private elapsed(): number {
    return this.releasedAt === undefined ? 0 : performance.now() - this.releasedAt;
  }
}

/**
 * Sends `requests` (up to MAX_SIMULTANEOUS_REQUESTS) so that they all arrive at once, and
 * resolves with their outcomes, in the same order, once every one has a response or has failed.
 * A connection that cannot be opened within `connectTimeoutMs` is a failed request; the others
 * are released all the same. Every request is released at the same instant, so one timer ends
 * every request still unanswered `timeoutMs` after it: nothing is left open.
 */
export async function simultaneousRequests(requests: readonly SimultaneousRequest[], options: SimultaneousOptions = {}): Promise<RequestOutcome[]> {
  const { connectTimeoutMs = 10_000, timeoutMs = 30_000, maxResponseBytes = 1 << 20, probePath = '/' } = options;
  if (requests.length < 1 || requests.length > MAX_SIMULTANEOUS_REQUESTS) {
    throw new RangeError(`simultaneousRequests: from 1 to ${MAX_SIMULTANEOUS_REQUESTS} requests, got ${requests.length}`);
  }
  for (const { path } of [...requests, { path: probePath }]) {
    // Written as is into the request line: no whitespace, so no second line either.
    if (!/^\/[!-~]*$/.test(path)) throw new RangeError(`simultaneousRequests: a path starts with "/" and has no spaces or control characters, got ${JSON.stringify(path)}`);
  }
  let unsettled = requests.length;
  let allSettled!: () => void;
  const settled = new Promise<void>((resolve) => (allSettled = resolve));
  const onSettled = () => --unsettled === 0 && allSettled();

  // Every connection opened, and every request written but for its last byte.
  const pending: PendingRequest[] = [];
  const armed: Promise<void>[] = [];
  for (const { port, path, host = '127.0.0.1' } of requests) {
    const socket = connect({ port, host, noDelay: true });
    const request = new PendingRequest(socket, maxResponseBytes, onSettled);
    pending.push(request);
    armed.push(new Promise<void>((resolve) => {
      socket.once('connect', () => socket.write(requestHead(host, port, path).subarray(0, -1), () => resolve()));
      socket.once('close', () => resolve());
    }));
  }
  const deadline = performance.now() + connectTimeoutMs;
  await within(Promise.all(armed), connectTimeoutMs);
  // Then accepted by every server: its probe answered, after all of them (see above).
  const servers = new Map(requests.map(({ port, host = '127.0.0.1' }) => [`${host}:${port}`, { host, port }]));
  const probeTimeoutMs = Math.max(0, deadline - performance.now());
  await Promise.all([...servers.values()].map(({ host, port }) => probe(host, port, probePath, maxResponseBytes, probeTimeoutMs)));

  // The release: the last byte of every request, in one synchronous loop.
  const lastByte = Buffer.from('\n', 'latin1');
  const releasedAt = performance.now();
  for (const request of pending) {
    if (!request.socket.connecting) request.release(lastByte, releasedAt);
    else request.fail(`not connected within ${connectTimeoutMs} ms`);
  }

  const timer = setTimeout(() => {
    for (const request of pending) request.fail(`no response within ${timeoutMs} ms`);
  }, timeoutMs);
  await settled;
  clearTimeout(timer);
  return pending.map((request) => request.outcome!);
}

function requestHead(host: string, port: number, path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** One whole request on a connection of its own; resolves once it is over: answered, failed, or cut off after `timeoutMs`. */
function probe(host: string, port: number, path: string, maxResponseBytes: number, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const request = new PendingRequest(connect({ port, host, noDelay: true }), maxResponseBytes, () => (clearTimeout(timer), resolve()));
    const timer = setTimeout(() => request.fail('probe timed out'), timeoutMs);
    request.socket.once('connect', () => request.release(requestHead(host, port, path), performance.now()));
  });
}

/** `promise`, or nothing once `ms` have passed: what is not done by then is dealt with after. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
