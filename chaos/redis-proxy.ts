// A TCP proxy of our own between one app instance and the private Redis, so one instance can be
// cut off from Redis while the other still reaches it: the fault that SIGKILL/SIGSTOP of the
// server cannot make (they hit every client at once). Stalled, it accepts and holds bytes in
// both directions, like a network that silently drops packets; healed, it delivers them in order.
// While Redis is down the proxy stops listening, so the app gets ECONNREFUSED as it would from a
// dead Redis (a proxy that accepted and then closed would change how the client retries).
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export class StallableProxy {
  private server?: Server;
  private readonly pairs = new Set<Pair>();
  stalled = false;

  constructor(
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Listens (again) on its port. */
  listen(): Promise<void> {
    if (this.server) return Promise.resolve();
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Stops listening and drops the connections: for while Redis itself is down. */
  refuse(): void {
    this.server?.close();
    this.server = undefined;
    this.dropAll();
  }

  private dropAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort });
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    // Either side going away (Redis killed, the app reconnecting) ends both: as a real connection would.
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
    client.on('data', (chunk) => (this.stalled ? pair.toUpstream.push(chunk) : upstream.write(chunk)));
    upstream.on('data', (chunk) => (this.stalled ? pair.toClient.push(chunk) : client.write(chunk)));
  }

  stall(): void {
    this.stalled = true;
  }

  /** Delivers what was held, in order, then forwards again. */
  heal(): void {
    this.stalled = false;
    for (const pair of this.pairs) {
      for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
      for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    const server = this.server;
    this.server = undefined;
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
}
