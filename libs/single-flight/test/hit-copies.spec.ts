import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Cached, SingleFlight } from '@app/single-flight';
import { createTestApp } from './support/test-app.js';

// A hit of an unchanged entry copies the decoded value kept for its key (caller-value.ts): that
// kept value must never reach a caller, or one caller's change would reach the next.
let loads = 0;

@Injectable()
class Pages {
  @Cached({ ttl: 60_000 })
  @SingleFlight()
  async page(id: number) {
    loads++;
    return { id, items: [{ title: 'a', at: new Date(0) }] };
  }
}

describe('sequential hits of an unchanged entry (copy mode)', () => {
  let app: TestingModule;
  beforeEach(async () => {
    loads = 0;
    app = await createTestApp([Pages], { options: { ttl: 60_000 } });
  });
  afterEach(() => app.close());

  it("no caller's change reaches the next caller, after a miss or a hit", async () => {
    const pages = app.get(Pages);
    const missed = await pages.page(1);
    missed.items[0].title = 'changed by the first caller';
    const hit = await pages.page(1);
    expect(hit.items[0].title).toBe('a');
    hit.items.push({ title: 'added by the second', at: new Date(1) });
    hit.items[0].at.setTime(5);
    const next = await pages.page(1);
    expect(next).toEqual({ id: 1, items: [{ title: 'a', at: new Date(0) }] });
    expect(next).not.toBe(hit);
    expect(loads).toBe(1);
  });
});
