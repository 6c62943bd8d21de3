import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestExpressApplication, NestExpressBodyParserOptionsFor } from '@nestjs/platform-express';

/**
 * The largest body a DTO accepts is a create with a 10,000-character description, a 200-character
 * title and a 64-character namespace: 10,264 characters, each at most 12 bytes of JSON (an astral
 * character as two \u escapes, as Python's json.dumps writes it), about 123 KB. Anything larger is
 * refused (413) while it is read, before it is parsed.
 */
export const JSON_BODY_LIMIT = 128 * 1024;

/** The DTOs are flat objects (depth 1): 8 leaves room for a wrapper without letting a parser recurse. */
export const MAX_JSON_DEPTH = 8;

export interface JsonBodyLimits {
  /** Bytes. */
  limit: number;
  maxDepth: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether the JSON in `body` (UTF-8) nests arrays and objects deeper than `maxDepth`: one pass,
 * no recursion, brackets inside strings (and escaped quotes) skipped. Exact for valid JSON;
 * anything it misreads is invalid JSON, which JSON.parse refuses next.
 */
export function jsonDepthExceeds(body: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++; // the escaped character, whatever it is, is not structure
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) depth--;
  }
  return false;
}

/** An error body-parser answers with its own status (http-errors reads `status`), which Nest maps to an HttpException. */
function refusal(status: number, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true });
}

const METHODS_WITH_BODIES = new Set(['POST', 'PUT', 'PATCH']);

type ExpressRequest = IncomingMessage & { is(type: string): string | false | null };

/**
 * The only body the API reads is JSON: a form or text body would otherwise reach the DTOs as
 * nothing (or, urlencoded, parsed by rules of its own), so it is a 415, not a confusing 400.
 */
function requireJson(req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void): void {
  // `is` is null for a request without a body, false for one of another type.
  if (METHODS_WITH_BODIES.has(req.method ?? '') && (req as ExpressRequest).is('application/json') === false) {
    const type = req.headers['content-type'];
    return next(new UnsupportedMediaTypeException(`Content-Type must be application/json, got ${type ? JSON.stringify(type) : 'none'}`));
  }
  next();
}

/**
 * JSON bodies only, within `limits`: too large is a 413 while reading, too deep a 400 from a
 * linear scan of the raw bytes before JSON.parse, so no parser or class-transformer recursion
 * ever sees it. Call on an app created with `bodyParser: false` (no urlencoded parser).
 */
export function useJsonBodies(app: NestExpressApplication, { limit, maxDepth }: JsonBodyLimits = { limit: JSON_BODY_LIMIT, maxDepth: MAX_JSON_DEPTH }): void {
  app.use(requireJson);
  const verify = (_req: IncomingMessage, _res: ServerResponse, body: Buffer, encoding: string) => {
    // The scan reads bytes as UTF-8: in UTF-16 a character's bytes can look like a quote and hide brackets.
    if (encoding.toLowerCase() !== 'utf-8') throw refusal(415, `unsupported charset "${encoding}": JSON bodies must be UTF-8`);
    if (jsonDepthExceeds(body, maxDepth)) throw refusal(400, `JSON body nested deeper than ${maxDepth} levels`);
  };
  // Nest's types leave `verify` out (its rawBody option sets one); without rawBody it reaches body-parser as given.
  app.useBodyParser('json', { limit, verify } as NestExpressBodyParserOptionsFor<'json'>);
}
