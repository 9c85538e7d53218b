/**
 * Measuring the live kernel: the throughput of a slot over a window, and the
 * watch-window verdict after a swap.
 *
 * Throughput is taken from the slot profiler's counters (steps and kernel
 * nanoseconds, timed natively around each kernel call), as a difference
 * between the start and the end of the window. Kernel time, not wall time:
 * the watchdog's snapshot copies and boundary tasks run between steps and
 * would otherwise count against whichever kernel happens to be live. The
 * gauntlet's tools are held for the window (gauntlet/background.ts): a
 * compile running beside a multi-threaded kernel slows it by more than its
 * share of the cores, and by how much depends on the kernel, so the
 * windows before and after a swap would compare loads, not kernels. The
 * watchdog's checks are deferred to the window's end for the same reason
 * (Lattice.holdWatchdogChecks): at 4096^2 one takes a core for 0.1 s, and
 * whether one lands in a window changed its figure by 10-30%.
 */
import { withToolsHeld } from '../gauntlet/background.js';
import type { Lattice, Slot } from '../lattice/lattice.js';

export interface ThroughputWindow {
  steps: number;
  kernelNs: number;
  wallMs: number;
  /** Lattice updates per microsecond of kernel time. */
  mlups: number;
}

export interface WindowOptions {
  windowMs: number;
  minSteps: number;
  /** Gives up (with whatever it measured) after this long; default 20 x windowMs + 30 s. */
  timeoutMs?: number;
  /** Ends the window early, e.g. when the engine stops or the watchdog rolled back. */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
}

const POLL_MS = 25;

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** MLUPS of `steps` steps of a `cells`-cell lattice in `kernelNs` nanoseconds. */
export function mlupsOf(cells: number, steps: number, kernelNs: number): number {
  return kernelNs > 0 ? (cells * steps * 1e3) / kernelNs : 0;
}

/**
 * Watches the slot for at least `windowMs` and `minSteps` steps of the
 * running lattice and returns what its kernel did in that time.
 */
export async function measureSlot(lat: Lattice, slot: Slot, options: WindowOptions): Promise<ThroughputWindow> {
  const releaseChecks = lat.holdWatchdogChecks();
  try {
    return await withToolsHeld(() => watchWindow(lat, slot, options));
  } finally {
    releaseChecks();
  }
}

async function watchWindow(lat: Lattice, slot: Slot, options: WindowOptions): Promise<ThroughputWindow> {
  const sleep = options.sleep ?? sleepMs;
  const timeoutMs = options.timeoutMs ?? options.windowMs * 20 + 30_000;
  const first = lat.profile()[slot];
  const startedMs = performance.now();
  for (;;) {
    await sleep(Math.min(POLL_MS, options.windowMs));
    const now = lat.profile()[slot];
    const wallMs = performance.now() - startedMs;
    const steps = now.steps - first.steps;
    const done = (wallMs >= options.windowMs && steps >= options.minSteps) || wallMs >= timeoutMs || options.signal?.aborted === true;
    if (done) {
      const kernelNs = now.totalNs - first.totalNs;
      return { steps, kernelNs, wallMs, mlups: mlupsOf(lat.cells, steps, kernelNs) };
    }
  }
}

export interface WatchVerdict {
  ok: boolean;
  /** Why it failed, one sentence; empty when ok. */
  reason: string;
  /** live / incumbent MLUPS - 1 (negative: slower). */
  change: number;
}

/**
 * The throughput rule of the watch window: the new kernel's MLUPS may fall
 * at most `maxDegradation` (a fraction) below the incumbent's.
 */
export function judgeThroughput(incumbent: ThroughputWindow, live: ThroughputWindow, maxDegradation: number): WatchVerdict {
  if (live.steps === 0) {
    return { ok: false, reason: 'no step ran on the new module during the watch window', change: -1 };
  }
  const change = incumbent.mlups > 0 ? live.mlups / incumbent.mlups - 1 : 0;
  if (change < -maxDegradation) {
    return {
      ok: false,
      reason:
        `live throughput ${live.mlups.toFixed(1)} MLUPS is ${(-change * 100).toFixed(1)}% below the incumbent's ` +
        `${incumbent.mlups.toFixed(1)} MLUPS measured before the swap (maxDegradation ${(maxDegradation * 100).toFixed(1)}%)`,
      change,
    };
  }
  return { ok: true, reason: '', change };
}
