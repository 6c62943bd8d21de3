import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/**
 * A TCP relay in front of PostgreSQL that can be cut, as a crash or a network partition would cut
 * it: the demo's "database down" scenario and the tests point the app at `url` and pull the plug
 * without touching the server itself (which other apps and tests share). While cut, open
 * connections are closed and new ones are accepted and closed at once, so the app's pool fails
 * fast instead of hanging. (Closed, not reset: `resetAndDestroy()` here left Node 20's event loop
 * spinning at full CPU after the test, now and then.)
 */
export class DatabaseSwitch {
  private readonly sockets = new Set<Socket>();
  private down = false;

  private constructor(
    private readonly server: Server,
    /** The database URL with the relay's host and port in place of the server's. */
    readonly url: string,
  ) {}

  /** Listens on a free port of 127.0.0.1 and relays to the server of `databaseUrl`. */
  static async start(databaseUrl: string): Promise<DatabaseSwitch> {
    const target = new URL(databaseUrl);
    const host = target.hostname || '127.0.0.1';
    const port = Number(target.port || 5432);
    let relay: DatabaseSwitch | undefined;
    const server = createServer((client) => relay!.accept(client, host, port));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address() as { port: number };
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(address.port);
    relay = new DatabaseSwitch(server, url.toString());
    return relay;
  }

  get isDown(): boolean {
    return this.down;
  }

  /** The database is unreachable from now on; connections open through the relay are closed. */
  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Connections go through again. */
  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.server.close();
    await once(this.server, 'close');
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.down) return void client.destroy();
    const server = connect(port, host);
    for (const socket of [client, server]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined); // a broken connection is the point
      socket.on('close', () => {
        this.sockets.delete(socket);
        (socket === client ? server : client).destroy();
      });
    }
    client.pipe(server).pipe(client);
  }
}
