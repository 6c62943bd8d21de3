import { SingleFlightConfigError } from './errors.js';
import { keyFunctionOf, makesKeys, namespaceOf, scopeOf, type MethodMetadata } from './decorators/method-metadata.js';

interface Owner {
  type: Function;
  module: string;
}

/**
 * The key scopes (`Class.method`) of one application's decorated methods, gathered at start.
 * A scope is a class *name*: two classes of the same name (a monorepo's two `ItemsService`s, a
 * minified build's `t`s) would read each other's entries, so the start fails, naming both. A
 * `namespace` the user gives is meant to be shared and is not checked; a method that only
 * evicts makes no key.
 */
export class KeyScopes {
  private readonly owners = new Map<string, Owner>();
  /** Singleton instances per class, and whether each class has a decorated method keyed by all its arguments. */
  private readonly instances = new Map<Function, { tokens: string[]; unkeyed: string[] }>();

  add(className: string, method: string, meta: MethodMetadata, type: Function, module: string): void {
    if (namespaceOf(meta) || !makesKeys(meta)) return;
    const scope = scopeOf(meta, className, method);
    const owner = this.owners.get(scope);
    if (!owner) return void this.owners.set(scope, { type, module });
    if (owner.type === type) return;
    throw new SingleFlightConfigError(
      `Two different classes named ${className} (in ${owner.module} and ${module}) both key ${method}() as "${scope}": they would read each other's cache entries. ` +
        `Give one of them a namespace, e.g. @Cached({ namespace: '${module.replace(/Module$/, '')}${className}' }), or rename it.`,
    );
  }

  /** One singleton instance of `type` registered under `token`, with its decorated methods. */
  addInstance(type: Function, token: string, methods: { name: string; meta: MethodMetadata }[]): void {
    let seen = this.instances.get(type);
    if (!seen) this.instances.set(type, (seen = { tokens: [], unkeyed: [] }));
    seen.tokens.push(token);
    for (const { name, meta } of methods) if (makesKeys(meta) && !keyFunctionOf(meta) && !namespaceOf(meta) && !seen.unkeyed.includes(name)) seen.unkeyed.push(name);
  }

  /** Classes provided more than once whose instances share entries and flights without a key function saying why. */
  *sharedInstances(): Generator<string> {
    for (const [type, { tokens, unkeyed }] of this.instances) {
      if (tokens.length < 2 || unkeyed.length === 0) continue;
      yield `${type.name} is provided ${tokens.length} times (${tokens.join(', ')}): their ${unkeyed.map((m) => `${m}()`).join(', ')} share cache entries and flights. ` +
        `If the instances can answer differently (another base URL, tenant, database), key by the instance: @Cached({ key(this: ${type.name}, ...args) { return [this.someSetting, ...args]; } }).`;
    }
  }
}
