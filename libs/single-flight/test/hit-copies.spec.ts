import { jest } from '@jest/globals';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { TestingModule } from '@nestjs/testing';
import { Cached, devalueSerializer, SingleFlight } from '@app/single-flight';
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

describe('a hit of an unchanged entry decodes nothing (copy mode)', () => {
  it('100 sequential hits: the stored text is decoded at most once more, and each caller still gets a copy of its own', async () => {
    const app = await createTestApp([Pages], { options: { ttl: 60_000 } });
    const pages = app.get(Pages);
    loads = 0;
    await pages.page(2);
    // The default serializer, watched: a hit copies the value decoded for this text instead.
    const decode = jest.spyOn(devalueSerializer, 'decode');
    try {
      const hits = [];
      for (let i = 0; i < 100; i++) hits.push(await pages.page(2));
      expect(decode.mock.calls.length).toBeLessThanOrEqual(1);
      expect(new Set(hits).size).toBe(100);
      expect(hits.every((hit) => hit.items[0].at instanceof Date)).toBe(true);
      expect(loads).toBe(1);
      // The spy does see decodes: a hit of another key's new entry decodes it.
      await app.get<Cache>(CACHE_MANAGER).set('sf:Pages.page:[3]', (await app.get<Cache>(CACHE_MANAGER).get('sf:Pages.page:[2]'))!);
      const before = decode.mock.calls.length;
      await pages.page(3);
      expect(decode.mock.calls.length).toBeGreaterThan(before);
    } finally {
      decode.mockRestore();
      await app.close();
    }
  });
});
