import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsUUID, Max, Min, ValidateBy, ValidateIf, type ValidationArguments } from 'class-validator';

// With the `u` flag a surrogate pair is one code point: only a lone half matches.
const LONE_SURROGATE = /\p{Cs}/u;

/** Code points: what PostgreSQL counts in varchar(n) (validator's isLength skips variation selectors). */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) count--; // a high half: the pair is one character
  }
  return count;
}

/** Why `value` is not text of `min`..`max` characters that PostgreSQL stores as sent, or undefined. */
function textProblem(value: unknown, min: number, max: number): string | undefined {
  if (value === null) return 'must not be null';
  if (typeof value !== 'string') return 'must be a string';
  if (value.includes('\u0000')) return 'must not contain NUL (\\u0000) characters'; // PostgreSQL rejects them
  // pg would write a lone surrogate as U+FFFD: the stored text would differ from the sent one.
  if (LONE_SURROGATE.test(value)) return 'must be well-formed Unicode (it contains a lone surrogate)';
  const length = codePoints(value);
  if (length < min) return `must be longer than or equal to ${min} characters`;
  if (length > max) return `must be shorter than or equal to ${max} characters`;
  return undefined;
}

/**
 * A string of `min`..`max` Unicode characters without NUL or lone surrogates: what fits the column
 * (`varchar(max)` or text) and reads back exactly. The message says which rule failed.
 */
export function IsText(min: number, max: number): PropertyDecorator {
  return ValidateBy({
    name: 'isText',
    constraints: [min, max],
    validator: {
      validate: (value: unknown) => textProblem(value, min, max) === undefined,
      defaultMessage: (args?: ValidationArguments) => `$property ${textProblem(args?.value, min, max)}`,
    },
  });
}

/** Optional in a PATCH means absent: `null` is checked (and refused) like any other value. */
export const UnlessAbsent = (): PropertyDecorator => ValidateIf((_, value: unknown) => value !== undefined);

const DECIMAL = /^-?\d+$/;

/**
 * An integer query parameter: decimal digits (and a minus sign, refused by `min` with its own
 * message) and nothing else, so `1e3`, `0x10`, ` 5`, `5.0` and an empty value are all refused
 * rather than read as whatever Number() makes of them. At most MAX_SAFE_INTEGER: beyond it the
 * number read is not the one sent (and PostgreSQL's bigint ends at 2^63).
 */
export function QueryInt(min: number, max = Number.MAX_SAFE_INTEGER): PropertyDecorator {
  // class-validator checks in the order the decorators were applied: the integer check first.
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value)),
    IsInt({ message: '$property must be an integer, written in decimal digits' }),
    Min(min),
    Max(max),
  );
}

/** A UUID in its canonical lowercase form: the cache key and the tag are the same for every spelling. */
export function IsLowercasedUuid(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
    IsUUID(),
  );
}
