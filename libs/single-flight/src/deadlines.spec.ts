import { Deadlines } from './deadlines.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Deadlines', () => {
  it('fires a timeout once, no earlier than it is due and within the resolution after', async () => {
    const deadlines = new Deadlines(10);
    const setAt = performance.now();
    let firedAt = 0;
    let fired = 0;
    deadlines.add(30, () => ((firedAt = performance.now()), fired++));
    await sleep(80);
    expect(fired).toBe(1);
    expect(firedAt - setAt).toBeGreaterThanOrEqual(29);
  });

  it('a cancelled timeout never fires, and cancelling twice changes nothing', async () => {
    const deadlines = new Deadlines(5);
    let fired = 0;
    const a = deadlines.add(10, () => fired++);
    deadlines.add(10, () => (fired += 10));
    a.cancel();
    a.cancel();
    await sleep(40);
    expect(fired).toBe(10);
  });

  it('keeps firing after going idle, for timeouts added later (also from inside a firing one)', async () => {
    const deadlines = new Deadlines(5);
    const fired: string[] = [];
    deadlines.add(5, () => fired.push('first'));
    await sleep(30);
    deadlines.add(5, () => {
      fired.push('second');
      deadlines.add(0, () => fired.push('third'));
    });
    await sleep(40);
    expect(fired).toEqual(['first', 'second', 'third']);
  });

  it('a timeout cancelled after it fired (the work settled late) does not lose a later one', async () => {
    const deadlines = new Deadlines(5);
    let fired = 0;
    const first = deadlines.add(5, () => {
      fired++;
      first.cancel(); // as GuardedStore does while its timeout fires
    });
    await sleep(30);
    first.cancel(); // and as a loader settling after its hard timeout does
    deadlines.add(10, () => (fired += 10));
    await sleep(50);
    expect(fired).toBe(11);
  });

  it('does not keep the process alive', () => {
    const deadlines = new Deadlines(5);
    deadlines.add(60_000, () => undefined);
    const timer = (deadlines as unknown as { timer: { hasRef(): boolean } }).timer;
    expect(timer.hasRef()).toBe(false);
  });
});
