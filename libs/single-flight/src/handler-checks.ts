import type { Logger } from '@nestjs/common';
import { CUSTOM_ROUTE_ARGS_METADATA, INTERCEPTORS_METADATA, METHOD_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { ApplicationConfig } from '@nestjs/core';
import { CachedInterceptor } from './cached.interceptor.js';
import { keyFunctionOf, type MethodMetadata } from './decorators/method-metadata.js';
import { SingleFlightConfigError } from './errors.js';

/** Parameter decorators that read what the default key (route params and query) cannot see. */
const UNSEEN: Partial<Record<number, string>> = {
  [RouteParamtypes.REQUEST]: '@Req()',
  [RouteParamtypes.BODY]: '@Body()',
  [RouteParamtypes.HEADERS]: '@Headers()',
  [RouteParamtypes.SESSION]: '@Session()',
  [RouteParamtypes.FILE]: '@UploadedFile()',
  [RouteParamtypes.FILES]: '@UploadedFiles()',
  [RouteParamtypes.HOST]: '@HostParam()',
  [RouteParamtypes.IP]: '@Ip()',
  [RouteParamtypes.RAW_BODY]: '@RawBody()',
  [RouteParamtypes.COOKIES]: '@Cookies()',
  [RouteParamtypes.SIGNED_COOKIES]: '@SignedCookies()',
};

/**
 * Start-up checks of decorated controller handlers, which CachedInterceptor serves:
 * - an HTTP handler whose response depends on more than its route params and query (it reads the
 *   body, headers, the request...) must say so with a `key` function, or one user's answer would
 *   be served to another: the start fails;
 * - a handler that writes the response itself (`@Res()`) cannot be cached: the start fails;
 * - a handler with no CachedInterceptor bound would silently not be cached: a warning.
 */
export function checkHandler(controller: Function, method: string, meta: MethodMetadata, config: ApplicationConfig, logger: Logger): void {
  const where = `${controller.name}.${method}`;
  const handler = (controller.prototype as Record<string, Function>)[method];
  if ((meta.cached || meta.singleFlight) && Reflect.getMetadata(METHOD_METADATA, handler) !== undefined) {
    for (const decorator of parameterDecorators(controller, method)) {
      if (decorator === '@Res()') {
        throw new SingleFlightConfigError(`${where} reads @Res(): a handler that writes the response itself cannot be cached or coalesced; return the value instead`);
      }
      if (!keyFunctionOf(meta)) {
        throw new SingleFlightConfigError(
          `${where} reads ${decorator}, which its default key (route params and query) cannot see: one request's answer would be served to another. ` +
            'Give @Cached or @SingleFlight a key function of the request that names everything the answer depends on, e.g. key: (req) => [req.params.id, req.user.id].',
        );
      }
    }
  }
  if (!interceptorBound(controller, handler, config)) {
    logger.warn(`${where} is decorated, but CachedInterceptor is not bound to it: it is neither cached nor coalesced. Add @UseInterceptors(CachedInterceptor) to the controller or bind it globally.`);
  }
}

function parameterDecorators(controller: Function, method: string): string[] {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, unknown>;
  return Object.keys(args).flatMap((key) => {
    if (key.includes(CUSTOM_ROUTE_ARGS_METADATA)) return ['a custom parameter decorator'];
    const type = Number(key.split(':')[0]);
    if (type === RouteParamtypes.RESPONSE || type === RouteParamtypes.NEXT) return ['@Res()'];
    return UNSEEN[type] ? [UNSEEN[type]!] : [];
  });
}

const isCachedInterceptor = (item: unknown): boolean =>
  item instanceof CachedInterceptor || (typeof item === 'function' && (item === CachedInterceptor || item.prototype instanceof CachedInterceptor));

function interceptorBound(controller: Function, handler: Function, config: ApplicationConfig): boolean {
  const bound = [
    ...((Reflect.getMetadata(INTERCEPTORS_METADATA, controller) as unknown[]) ?? []),
    ...((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[]) ?? []),
    ...config.getGlobalInterceptors(),
    ...config.getGlobalRequestInterceptors().map((wrapper) => wrapper.metatype),
  ];
  return bound.some(isCachedInterceptor);
}
