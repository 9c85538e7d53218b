/**
 * Runs asynchronous work one piece at a time, in the order it was queued.
 * The engine hands the gauntlet one so that its concurrent attempts never
 * run their sandboxes together: each sandbox run ends with a benchmark, and
 * two benchmarks sharing the cores would measure each other. The rest of
 * an attempt (static analysis, the compile) still overlaps.
 */
/** Decides when a sandbox run may go: the engine's holds the live lattice for it, after the runs queued before. */
export interface SandboxScheduler {
  run<T>(work: () => Promise<T>): Promise<T>;
}

export class SerialQueue implements SandboxScheduler {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `work` once everything queued before it has settled; settles as it does. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
