import { Injectable } from '@nestjs/common';
import { Cached, SingleFlight, CacheEvict } from '@app/single-flight';
import { createTestApp } from './support/test-app.js';
import { latch, settle } from './support/latch.js';

const gate = latch();
let loads = 0;
@Injectable()
class Svc {
  @Cached({ tags: ['t'] })
  @SingleFlight()
  async get(id: number) { loads++; await gate.promise; return { id, at: new Date(0) }; }
  @CacheEvict({ tags: ['t'] })
  async write() { return 1; }
}
it('smoke', async () => {
  const app = await createTestApp([Svc]);
  const svc = app.get(Svc);
  const calls = Array.from({ length: 10 }, () => svc.get(1));
  await settle();
  expect(loads).toBe(1);
  gate.release();
  const results = await Promise.all(calls);
  expect(results[0]).toEqual({ id: 1, at: new Date(0) });
  expect(results[0]).not.toBe(results[1]);
  await svc.get(1);
  expect(loads).toBe(1);
  await svc.write();
  await svc.get(1);
  expect(loads).toBe(2);
  await app.close();
});
