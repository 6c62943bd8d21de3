import http from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as is: percent-encode what Node refuses in a request line (spaces, control characters). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * One request with exactly these bytes (supertest re-encodes some), to 127.0.0.1:`port` over a
 * keep-alive `agent`; rejects after `timeoutMs` so that a hung server fails a test instead of stalling it.
 */
export function rawRequest(port: number, agent: http.Agent, { method, path, headers = {}, body }: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${method} ${path.slice(0, 200)}`)));
    req.on('error', reject);
    req.end(body);
  });
}
