/**
 * `ouroboros simulate --swap-every 100ms --modules a.so,b.so`: a one-process
 * demonstration of hot swap. The lattice runs on its own thread while a timer
 * swaps the modules into a slot round-robin; each swap is printed as it lands.
 *
 * The modules are the user's files, so untrusted (simulate-kernel.ts): a
 * `.so` runs confined in a kernel host, and the run has a watchdog whose
 * verified snapshots restore a crashed host's step; a `.node` addon only
 * with `trustNativeAddon`, in this process.
 */
import type { Slot } from '../lattice/lattice.js';
import { ModuleRefusedError } from '../modules/module-manager.js';
import { type SimulateOptions, relativeDrift, seededLattice } from './simulate.js';
import { loadUserModule, userModuleRefusal } from './simulate-kernel.js';

export interface SwapEveryOptions extends SimulateOptions {
  everyMs: number;
  modules: string[];
  slot: Slot;
  /** Run for this long; without it, run `steps` steps. */
  durationMs?: number;
}

/** Steps between the watchdog's checks while confined modules may be live, as `simulate --serve` runs. */
const WATCHDOG_EVERY_STEPS = 50;

export interface DemoSwap {
  index: number;
  slot: Slot;
  module: string;
  from: string;
  to: string;
  /** End of the last step on the old code to the start of the first on the new, in us; null if the run ended first. */
  pauseUs: number | null;
  /** The step counter at the swap: the first step on the new code has this index. */
  appliedAtStep: number;
}

export interface SwapEverySummary {
  extents: number[];
  precision: string;
  /** `confined`: the module stepped in a kernel host; false only for a trusted `.node` addon. */
  modules: Array<{ file: string; name: string; loadMs: number; confined: boolean }>;
  swaps: DemoSwap[];
  steps: number;
  wallSeconds: number;
  pauseUs: { p50: number; max: number } | null;
  kernel: string;
  energyDrift: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function formatSwap(swap: DemoSwap): string {
  const pause = swap.pauseUs === null ? 'applied as the run ended' : `pause ${swap.pauseUs.toFixed(1)} us`;
  return `swap ${swap.index}: ${swap.slot} ${swap.from} -> ${swap.to} (${swap.module}) at step ${swap.appliedAtStep}, ${pause}`;
}

export async function swapEvery(options: SwapEveryOptions, onSwap: (swap: DemoSwap) => void): Promise<SwapEverySummary> {
  const trustNativeAddon = options.trustNativeAddon === true;
  // Refused before anything is loaded or allocated: a bad list is a usage error, not half a demonstration.
  options.modules.forEach((file) => {
    const refusal = userModuleRefusal(file, trustNativeAddon);
    if (refusal !== null) throw new ModuleRefusedError(file, refusal);
  });
  // In a segment, for the kernel hosts of the confined modules to map.
  const lattice = await seededLattice(options, true);
  try {
    const modules: SwapEverySummary['modules'] = [];
    const ids: number[] = [];
    for (const file of options.modules) {
      const id = await loadUserModule(lattice, file, trustNativeAddon);
      const info = lattice.moduleInfo(id);
      ids.push(id);
      modules.push({ file: info.source, name: info.name, loadMs: info.loadMs, confined: lattice.isConfined(id) });
    }
    const initialEnergy = lattice.initialEnergy;
    const swaps: DemoSwap[] = [];
    let inFlight: Promise<void> | null = null;
    const swapNext = () => {
      // One swap at a time: a tick that finds the last one still pending is skipped.
      if (inFlight) return;
      const k = swaps.length;
      inFlight = lattice
        .swap(options.slot, ids[k % ids.length]!)
        .then((result) => {
          const swap: DemoSwap = {
            index: swaps.length + 1,
            slot: result.slot,
            module: modules[k % ids.length]!.file,
            from: result.fromName,
            to: result.toName,
            pauseUs: result.firstStepRan ? result.gapNs / 1e3 : null,
            appliedAtStep: result.appliedAtStep,
          };
          swaps.push(swap);
          onSwap(swap);
        })
        .finally(() => (inFlight = null));
    };
    const started = performance.now();
    // The watchdog's verified snapshots are what a crashed kernel host's step is restored from.
    const watchdog = { everySteps: WATCHDOG_EVERY_STEPS };
    const run = lattice.run(options.durationMs === undefined ? { steps: options.steps, watchdog } : { watchdog });
    const ticker = setInterval(swapNext, options.everyMs);
    const deadline = options.durationMs === undefined ? null : setTimeout(() => void lattice.stop(), options.durationMs);
    let summary;
    try {
      summary = await run;
    } finally {
      clearInterval(ticker);
      if (deadline) clearTimeout(deadline);
    }
    await inFlight;
    if (summary.error) throw new Error(`the run ended at step ${summary.endStep}: ${summary.error}`);
    const pauses = swaps.flatMap((swap) => (swap.pauseUs === null ? [] : [swap.pauseUs]));
    return {
      extents: [...lattice.extents],
      precision: lattice.precision,
      modules,
      swaps,
      steps: lattice.stepCount,
      wallSeconds: (performance.now() - started) / 1e3,
      pauseUs: pauses.length ? { p50: median(pauses), max: Math.max(...pauses) } : null,
      kernel: lattice.kernelName,
      energyDrift: relativeDrift(lattice.energy(), initialEnergy),
    };
  } finally {
    lattice.close();
  }
}

export function formatSwapEverySummary(summary: SwapEverySummary): string {
  const pause = summary.pauseUs ? `pause p50 ${summary.pauseUs.p50.toFixed(1)} us, max ${summary.pauseUs.max.toFixed(1)} us` : 'no pause measured';
  return [
    `lattice        ${summary.extents.join(' x ')} ${summary.precision}`,
    `modules        ${summary.modules
      .map((module) => `${module.name} (${module.file}, ${module.confined ? 'confined' : 'in-process, trusted'}, loaded in ${module.loadMs.toFixed(0)} ms)`)
      .join(', ')}`,
    `swaps          ${summary.swaps.length}, ${pause}`,
    `steps          ${summary.steps} in ${summary.wallSeconds.toFixed(2)} s`,
    `live kernel    ${summary.kernel}`,
    `energy drift   ${summary.energyDrift.toExponential(2)}`,
  ].join('\n');
}
