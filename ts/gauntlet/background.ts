/**
 * The gauntlet's tools (the static analysers, the compiler) are background
 * work: they run at a low scheduling priority, so that they take little of
 * the cores from the live simulation or from a benchmark timing kernels.
 * Not the lowest: the simulation keeps both cores busy, and at nice 19 a
 * 25-attempt search took 597 s of its 600 s budget.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';

/** The nice value of the gauntlet's tools: a tenth of a nice-0 thread's share of a contended core. */
export const BACKGROUND_NICE = 10;

/** Lowers `child` (and what it forks from now on) to BACKGROUND_NICE; returns it. */
export function inBackground<T extends ChildProcess>(child: T): T {
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, BACKGROUND_NICE);
    } catch {
      // It has exited already: nothing left to lower.
    }
  }
  return child;
}
