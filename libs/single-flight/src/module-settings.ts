import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { SingleFlightModuleOptions } from './interfaces/single-flight-module-options.interface.js';
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_HARD_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_STORE_TIMEOUT } from './single-flight.constants.js';
import { validateOptions } from './validate-options.js';
import { devalueSerializer, type ValueSerializer } from './value-codec.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './value-limits.js';
import { EntrySignature } from './entry-signature.js';

/** The module options, checked and with their defaults. */
export interface ExecutorSettings {
  keyPrefix: string;
  ttl?: number;
  vary?: () => unknown;
  timeout?: number;
  hardTimeout: number;
  storeTimeout: number;
  circuitBreaker: Required<CircuitBreakerOptions> | false;
  tagTtl?: number;
  freeze: boolean;
  json: boolean;
  enabled: boolean;
  serializer: ValueSerializer;
  decodeLimits: Required<DecodeLimits>;
  /** Signs and verifies entries; undefined without a `secret`. */
  signature?: EntrySignature;
}

/** Validates the options of `forRoot()` or `forRootAsync()` (named in errors by `where`) and fills in the defaults. */
export function resolveModuleOptions(options: SingleFlightModuleOptions, where: string): ExecutorSettings {
  validateOptions(where, options, {
    ttl: 'positive',
    keyPrefix: 'string',
    vary: 'function',
    timeout: 'positive',
    hardTimeout: 'positive',
    storeTimeout: 'positive',
    circuitBreaker: 'object',
    tagTtl: 'positive',
    freeze: 'boolean',
    json: 'boolean',
    serializer: 'object',
    enabled: 'boolean',
    decodeLimits: 'object',
    secret: 'secret',
    // ConfigurableModuleBuilder passes its extras along with the options.
    isGlobal: 'boolean',
  });
  const circuitBreaker = options.circuitBreaker === false ? false : { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker };
  if (circuitBreaker) validateOptions(`${where} circuitBreaker`, circuitBreaker, { failureThreshold: 'positive', resetTimeout: 'positive' });
  if (options.serializer) validateOptions(`${where} serializer`, options.serializer, { encode: 'function', decode: 'function' });
  const decodeLimits = { ...DEFAULT_DECODE_LIMITS, ...options.decodeLimits };
  validateOptions(`${where} decodeLimits`, decodeLimits, { maxLength: 'count', maxDepth: 'count' });
  return {
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    ttl: options.ttl,
    vary: options.vary,
    timeout: options.timeout,
    hardTimeout: options.hardTimeout ?? DEFAULT_HARD_TIMEOUT,
    storeTimeout: options.storeTimeout ?? DEFAULT_STORE_TIMEOUT,
    circuitBreaker,
    tagTtl: options.tagTtl,
    freeze: options.freeze ?? false,
    json: options.json ?? false,
    enabled: options.enabled ?? true,
    serializer: options.serializer ?? devalueSerializer,
    decodeLimits,
    signature: options.secret === undefined ? undefined : new EntrySignature(options.secret),
  };
}
