import { type ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';

/**
 * Names a DTO can never have, that class-transformer drops without a word (so `whitelist` never
 * sees them): `__proto__`, `constructor`, `toString`... and `prototype`.
 */
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/**
 * The ValidationPipe, plus what it cannot see in a body or query string: keys that would be
 * dropped silently (refused, as any unknown field is) and query parameters given more than once.
 */
export class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if ((metadata.type === 'body' || metadata.type === 'query') && typeof value === 'object' && value !== null) {
      const fields = value as Record<string, unknown>;
      const problems = Object.keys(fields)
        .filter((key) => PROTOTYPE_KEYS.has(key))
        .map((key) => `property ${key} should not exist`);
      if (metadata.type === 'query') {
        for (const [key, given] of Object.entries(fields)) if (Array.isArray(given)) problems.push(`${key} must be given once, not ${given.length} times`);
      }
      if (problems.length > 0) throw new BadRequestException(problems);
    }
    return super.transform(value, metadata);
  }
}
