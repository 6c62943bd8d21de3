// What the bench must undo, whatever happens: child processes, its Redis keys, its database.
// Steps run once, last added first, on the normal end, on an error and on SIGINT/SIGTERM.

interface Step {
  what: string;
  run: () => Promise<unknown>;
}

export class Cleanup {
  private readonly steps: Step[] = [];
  private running?: Promise<void>;

  /** Registers a step; the function returned runs it now (and unregisters it). */
  add(what: string, run: () => Promise<unknown>): () => Promise<void> {
    const step: Step = { what, run };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await step.run();
    };
  }

  /** Runs every step left, each bounded by `stepTimeoutMs`; a failed step is reported, the others still run. */
  run(report: (line: string) => void, stepTimeoutMs = 20_000): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([step.run(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no end within ${stepTimeoutMs} ms`)), stepTimeoutMs)))]);
        } catch (error) {
          report(`cleanup: ${step.what} failed: ${(error as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }

  /**
   * SIGINT/SIGTERM: `interrupt` (stop the load), the steps, then exit with 130/143. A second signal
   * exits at once (after `lastResort`, which must be synchronous: kill the children by pid).
   */
  onSignals(report: (line: string) => void, interrupt: () => void, lastResort: () => void): void {
    let signalled = false;
    const handle = (signal: NodeJS.Signals) => {
      if (signalled) {
        lastResort();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      signalled = true;
      report(`${signal}: stopping the instances, deleting the bench's Redis keys and dropping its database (again to quit at once)`);
      interrupt();
      void this.run(report).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', handle);
    process.on('SIGTERM', handle);
    process.on('exit', lastResort);
  }
}
