/**
 * The gauntlet's tools (the static analysers, the compiler) are background
 * work: they run at the lowest scheduling priority, so that they never take
 * the cores from the live simulation or from a benchmark timing kernels.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';

/** The nice value of the gauntlet's tools: the lowest priority there is. */
export const BACKGROUND_NICE = 19;

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
