import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { readMethodMetadata } from './decorators/method-metadata.js';
import type { MethodExecutor } from './decorators/method-trampoline.js';
import { EXECUTOR } from './single-flight.constants.js';

/**
 * Puts one application's executor where the trampolines of its providers will find it, so that
 * several applications in one process (tests boot many) each keep their own:
 * - singletons, and transient instances made at start: on the instance itself;
 * - instances the application makes later (request scope, transient under a request-scoped
 *   consumer): through the provider's wrapper, whose class is swapped for a subclass that
 *   carries the executor on its prototype (a factory: for a function that puts it on what the
 *   factory returns). Nothing is put on the user's class itself.
 * `uninstall()` undoes all of it (application shutdown).
 */
export class ExecutorInstaller {
  private readonly undo: (() => void)[] = [];

  constructor(private readonly executor: MethodExecutor) {}

  install(wrapper: InstanceWrapper): void {
    if (wrapper.isDependencyTreeStatic() && !wrapper.isTransient) return this.onInstance(wrapper.instance as object);
    for (const host of wrapper.getStaticTransientInstances()) if (host?.instance) this.onInstance(host.instance as object);
    this.onLaterInstances(wrapper);
  }

  /** Request-scoped factory providers: what they make is only known when they make it. */
  installOnFactory(wrapper: InstanceWrapper): void {
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) this.onLaterInstances(wrapper);
  }

  uninstall(): void {
    for (const undo of this.undo.splice(0).reverse()) undo();
  }

  private onInstance(instance: object): void {
    if (!hasDecoratedMethods(instance) || !Object.isExtensible(instance)) return;
    define(instance, this.executor);
    this.undo.push(() => {
      if ((instance as { [EXECUTOR]?: unknown })[EXECUTOR] === this.executor) delete (instance as { [EXECUTOR]?: unknown })[EXECUTOR];
    });
  }

  private onLaterInstances(wrapper: InstanceWrapper): void {
    const original = wrapper.metatype as (Function & { prototype?: object }) | null;
    if (typeof original !== 'function') return;
    const executor = this.executor;
    let replacement: Function;
    if (wrapper.inject) {
      const install = (instance: unknown) => {
        if (typeof instance === 'object' && instance !== null && hasDecoratedMethods(instance) && Object.isExtensible(instance)) define(instance, executor);
        return instance;
      };
      replacement = function (this: unknown, ...args: unknown[]) {
        const made = original.apply(this, args);
        return made instanceof Promise ? made.then(install) : install(made);
      };
    } else {
      // Nest reads constructor metadata through the prototype chain: the subclass inherits it all.
      replacement = class extends (original as new (...args: unknown[]) => object) {};
      Object.defineProperty(replacement, 'name', { value: original.name });
      Object.defineProperty(replacement.prototype, EXECUTOR, { value: executor });
    }
    wrapper.metatype = replacement as never;
    this.undo.push(() => {
      if (wrapper.metatype === replacement) wrapper.metatype = original as never;
    });
  }
}

const define = (instance: object, executor: MethodExecutor) => Object.defineProperty(instance, EXECUTOR, { value: executor, configurable: true, writable: true });

const decorated = new WeakMap<object, boolean>();

/** Whether an object's class chain has a decorated method, memoised per prototype. */
function hasDecoratedMethods(instance: object): boolean {
  const proto = Object.getPrototypeOf(instance);
  if (!proto) return false;
  let known = decorated.get(proto);
  if (known === undefined) decorated.set(proto, (known = decoratedMethods(proto).length > 0));
  return known;
}

/** Decorated methods of a prototype chain, read through descriptors: a getter is never invoked. */
export function decoratedMethods(proto: object | null): { name: string; meta: NonNullable<ReturnType<typeof readMethodMetadata>> }[] {
  const found: { name: string; meta: NonNullable<ReturnType<typeof readMethodMetadata>> }[] = [];
  const names = new Set<string>();
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (names.has(name)) continue;
      const meta = readMethodMetadata(Object.getOwnPropertyDescriptor(p, name)?.value);
      if (!meta) continue;
      names.add(name);
      found.push({ name, meta });
    }
  }
  return found;
}
