import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, type Observable } from 'rxjs';
import { CachedExecutor } from './cached-executor.js';
import { keyFunctionOf } from './decorators/method-metadata.js';
import { SingleFlightConfigError } from './errors.js';
import { handlerInvocation, metadataOf } from './invocation.js';

interface HttpRequest {
  method?: string;
  headers?: Record<string, unknown>;
}

/**
 * The decorators' flow for controller handlers (Nest runs interceptors only there):
 * `@UseInterceptors(CachedInterceptor)` on a controller or handler, or bound globally.
 * The default key is the handler plus the route's params and query (HTTP), or the message
 * data (microservices, websockets). `key` and `tags` functions receive the request (HTTP) or
 * the handler's arguments; `@CacheEvict` tag functions get `(result, request)`.
 *
 * Over HTTP it shares only what a shared cache may (RFC 9111): without a `key` function, only
 * GET and HEAD requests that carry no Authorization and no Cookie header are cached or coalesced;
 * other requests run the handler as if undecorated. A `key` function takes that over: it must
 * name everything the answer depends on (the user, the body...). Subclass to change `sharedMethods`.
 */
@Injectable()
export class CachedInterceptor implements NestInterceptor {
  protected readonly sharedMethods: readonly string[] = ['GET', 'HEAD'];
  constructor(private readonly executor: CachedExecutor) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler();
    const meta = metadataOf(handler);
    if (!meta) return next.handle();
    if (!meta.evict && !keyFunctionOf(meta) && context.getType() === 'http' && !this.mayShare(context.switchToHttp().getRequest<HttpRequest>())) {
      return next.handle();
    }
    const invocation = handlerInvocation(context, next, meta);
    if (!invocation) {
      throw new SingleFlightConfigError(
        `${context.getClass().name}.${handler.name}: CachedInterceptor has no default key for "${context.getType()}" handlers; give the decorator a \`key\` function`,
      );
    }
    return from(this.executor.execute(invocation));
  }

  /** May a shared cache serve this request, or join it to another's flight, keyed by its URL alone? */
  protected mayShare(request: HttpRequest): boolean {
    const headers = request.headers ?? {};
    return this.sharedMethods.includes(request.method ?? 'GET') && headers.authorization === undefined && headers.cookie === undefined;
  }
}
