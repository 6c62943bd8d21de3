import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { CachedExecutor } from './cached-executor.js';
import { readMethodMetadata, type MethodMetadata } from './decorators/method-trampoline.js';
import { SingleFlightConfigError } from './errors.js';

/**
 * The decorators' flow for controller handlers (Nest runs interceptors only there):
 * `@UseInterceptors(CachedInterceptor)` on a controller or handler, or bound globally.
 * The default key is the handler plus the route's params and query (HTTP), or the message
 * data (microservices, websockets). `key` and `tags` functions receive the request (HTTP) or
 * the handler's arguments; `@CacheEvict` tags functions get `(result, request)`.
 */
@Injectable()
export class CachedInterceptor implements NestInterceptor {
  private readonly metadata = new WeakMap<Function, MethodMetadata | null>();

  constructor(private readonly executor: CachedExecutor) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler();
    let meta = this.metadata.get(handler);
    if (meta === undefined) this.metadata.set(handler, (meta = readMethodMetadata(handler) ?? null));
    if (!meta) return next.handle();
    const className = context.getClass().name;
    const namespace = meta.cached?.namespace ?? meta.singleFlight?.namespace ?? className;
    const where = `${className}.${handler.name}`;
    const { fnArgs, keyParts } = this.argsOf(context, where, meta);
    return from(
      this.executor.execute({
        where,
        scope: `${namespace}.${handler.name}`,
        meta,
        fnArgs,
        keyParts,
        load: () => lastValueFrom(next.handle(), { defaultValue: undefined }),
      }),
    );
  }

  private argsOf(context: ExecutionContext, where: string, meta: MethodMetadata): { fnArgs: unknown[]; keyParts: unknown[] } {
    switch (context.getType()) {
      case 'http': {
        const request = context.switchToHttp().getRequest<{ params?: unknown; query?: unknown }>();
        return { fnArgs: [request], keyParts: [request.params ?? {}, request.query ?? {}] };
      }
      case 'rpc':
        return { fnArgs: context.getArgs(), keyParts: [context.switchToRpc().getData()] };
      case 'ws':
        return { fnArgs: context.getArgs(), keyParts: [context.switchToWs().getData()] };
      default:
        if (meta.cached?.key || meta.singleFlight?.key || meta.evict) return { fnArgs: context.getArgs(), keyParts: [] };
        throw new SingleFlightConfigError(`${where}: CachedInterceptor has no default key for "${context.getType()}" handlers; give the decorator a \`key\` function`);
    }
  }
}
