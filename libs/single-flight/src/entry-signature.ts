import { createHmac, timingSafeEqual } from 'node:crypto';

/** What `secret` takes: one key, or several while rotating (the first signs, every one verifies). */
export type SigningSecret = string | Buffer | readonly (string | Buffer)[];

/**
 * HMAC-SHA256 of an entry's content and its key, so write access to the store is not enough to
 * feed the application data: an entry that does not verify is a miss. The key is part of what is
 * signed, so a genuine entry cannot be copied under another key (another user's, another
 * tenant's). Verification runs only on entries whose tag tokens are current, before decoding.
 */
export class EntrySignature {
  private readonly secrets: Buffer[];

  constructor(secret: SigningSecret) {
    this.secrets = (Array.isArray(secret) ? secret : [secret]).map((s: string | Buffer) => Buffer.from(s));
  }

  sign(key: string, content: string): string {
    return this.mac(this.secrets[0], key, content).toString('base64url');
  }

  verify(key: string, content: string, signature: string): boolean {
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== 32) return false;
    return this.secrets.some((secret) => timingSafeEqual(given, this.mac(secret, key, content)));
  }

  private mac(secret: Buffer, key: string, content: string): Buffer {
    // The key's length first: no key and content can pose as another split of the same bytes.
    return createHmac('sha256', secret).update(`${key.length}:${key}|`).update(content).digest();
  }
}
