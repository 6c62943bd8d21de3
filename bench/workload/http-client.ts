// A minimal HTTP/1.1 client on node:http with a keep-alive Agent per instance: less work per
// request than fetch, which matters when the generator shares 2 cores with the fleet.
import { Agent, request } from 'node:http';

export interface Response {
  status: number;
  body: string;
  /** From the request's start to the response's last byte. */
  ms: number;
}

export class Target {
  readonly agent = new Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: Infinity });

  constructor(
    /** A, B: how the report names the instance. */
    readonly name: string,
    readonly port: number,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Resolves with any status; rejects on a network error or after `timeoutMs` (the socket is then
   * destroyed), so no request outlives the run by more than that.
   */
  send(method: string, path: string, body: unknown, timeoutMs: number): Promise<Response> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = performance.now();
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no response within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
