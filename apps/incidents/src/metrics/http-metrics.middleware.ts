import { Injectable, type NestMiddleware } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What Express adds to a request once a route matched. */
type RoutedRequest = IncomingMessage & { route?: { path?: string }; baseUrl?: string };

/** Request durations (s), the HTTP server histogram of OpenTelemetry's semantic conventions. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];

/**
 * `http.server.request.duration` by method, route template and status: measured from the first
 * byte Nest sees to the last one sent, for every response (404s and errors included). The route
 * is Express's template (`/incidents/:id`), never the path with its ids.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  private readonly duration = metrics.getMeter('incidents').createHistogram('http.server.request.duration', {
    description: 'Duration of HTTP server requests',
    unit: 's',
    advice: { explicitBucketBoundaries: BUCKETS },
  });

  use(request: RoutedRequest, response: ServerResponse, next: () => void): void {
    const started = performance.now();
    response.once('finish', () => {
      const route = request.route?.path;
      this.duration.record((performance.now() - started) / 1000, {
        'http.request.method': request.method ?? 'GET',
        'http.route': route ? `${request.baseUrl ?? ''}${route}` : 'unmatched',
        'http.response.status_code': response.statusCode,
      });
    });
    next();
  }
}
