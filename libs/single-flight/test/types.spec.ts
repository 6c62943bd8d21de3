import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';

// The decorators' types, checked by `npm run typecheck` (tsc): each @ts-expect-error below must
// be an error, or tsc fails on the unused directive. At run time the classes only have to load.

interface Incident {
  id: string;
}

class Typed {
  @Cached()
  @SingleFlight()
  async list(): Promise<Incident[]> {
    return [];
  }

  // @ts-expect-error a synchronous method would return a Promise at run time: only async methods are accepted
  @Cached()
  count(): number {
    return 0;
  }

  // @ts-expect-error the same for @SingleFlight
  @SingleFlight()
  countAgain(): number {
    return 0;
  }

  @Cached({ key: (id: string) => id, tags: ['incidents', (id: string) => `incident:${id}`] })
  async get(id: string, signal?: AbortSignal): Promise<Incident> {
    void signal;
    return { id };
  }

  // @ts-expect-error a key function typed for other parameters than the method's
  @Cached({ key: (id: number) => id })
  async byName(name: string): Promise<Incident> {
    return { id: name };
  }

  // @ts-expect-error a tag function typed for other parameters than the method's
  @Cached({ tags: [(id: number) => `incident:${id}`] })
  async byName2(name: string): Promise<Incident> {
    return { id: name };
  }

  @CacheEvict({ tags: ['incidents', (incident: Incident, id: string) => [`incident:${incident.id}`, `incident:${id}`]] })
  async update(id: string, patch: Partial<Incident>): Promise<Incident> {
    return { ...patch, id };
  }

  // @ts-expect-error tag functions of @CacheEvict receive the result first: (id: string) here would get an Incident
  @CacheEvict({ tags: (id: string) => [`incident:${id}`] })
  async rename(id: string): Promise<Incident> {
    return { id };
  }

  readonly region = 'eu';

  @Cached({
    key(this: Typed, id: string) {
      return [this.region, id];
    },
  })
  async regional(id: string): Promise<string> {
    return id;
  }
}

describe('decorator types (checked by tsc)', () => {
  it('accept async methods with matching key and tag functions', () => {
    expect(typeof Typed.prototype.get).toBe('function');
  });
});
