import { Injectable } from '@nestjs/common';
import { Cached, SingleFlight } from '@app/single-flight';
import { createTestApp } from './support/test-app.js';

// No call waits for itself: a decorated method that calls itself with the same key runs that inner call plainly.

@Injectable()
class Repository {
  loads = 0;
  @Cached()
  @SingleFlight()
  async find(id: number): Promise<Record<string, unknown>> {
    this.loads++;
    return { id, by: 'base' };
  }
}

@Injectable()
class AuditedRepository extends Repository {
  // The override and the method it calls share one key: Class (AuditedRepository) + find + [id].
  @Cached()
  @SingleFlight()
  override async find(id: number): Promise<Record<string, unknown>> {
    return { ...(await super.find(id)), audited: true };
  }
}

@Injectable()
class Tree {
  loads = 0;
  /** Keyed by the id alone: the call with depth 1 has the same key as its caller. */
  @Cached({ key: (id: number) => id })
  @SingleFlight()
  async path(id: number, depth = 0): Promise<string> {
    this.loads++;
    return depth < 1 ? `${await this.path(id, depth + 1)}<-${depth}` : `${depth}`;
  }
}

describe('a decorated method calling itself with the same key', () => {
  // A short hard timeout, so a call that waited for itself would fail fast instead of hanging 30 s.
  const start = () => createTestApp([AuditedRepository, Tree], { options: { hardTimeout: 1_000 } });

  it('an override calling its decorated super method does not wait for its own flight', async () => {
    const app = await start();
    const repo = app.get(AuditedRepository);
    await expect(repo.find(1)).resolves.toEqual({ id: 1, by: 'base', audited: true });
    await expect(repo.find(1)).resolves.toEqual({ id: 1, by: 'base', audited: true });
    expect(repo.loads).toBe(1);
    await app.close();
  });

  it('a recursive call with the same key runs plainly inside its caller’s flight', async () => {
    const app = await start();
    const tree = app.get(Tree);
    await expect(Promise.all([tree.path(7), tree.path(7)])).resolves.toEqual(['1<-0', '1<-0']);
    expect(tree.loads).toBe(2); // the outer load and its inner call; the second caller joined
    await expect(tree.path(7)).resolves.toBe('1<-0');
    expect(tree.loads).toBe(2);
    await app.close();
  });
});
