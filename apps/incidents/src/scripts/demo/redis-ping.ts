import { connect } from 'node:net';

/**
 * Whether a Redis answers PING at `host:port` within `timeoutMs`: one inline command on a raw
 * socket, so looking costs no client, no retries and no reconnection loop when nothing listens.
 * Only `+PONG` counts: a Redis that wants a password (`-NOAUTH`; REDIS_URL must say how
 * to log in) does not count: the demo could not use it as it is.
 */
export function redisAnswers(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('latin1');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
