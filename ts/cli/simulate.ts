/**
 * `ouroboros simulate`: run one lattice for a number of steps and report the
 * throughput, the energy drift and the readout histogram.
 */
import type { Precision } from '../../native/addon-types.js';
import { Lattice } from '../lattice/lattice.js';
import { initialState } from '../lattice/initial-conditions.js';
import { requireInteger } from '../errors.js';

export interface SimulateOptions {
  extents: number[];
  steps: number;
  dt: number;
  c: number;
  h: number;
  init: string;
  precision: Precision;
  seed: number;
  threads?: number;
  kernel?: string;
}

export interface SimulationSummary {
  extents: number[];
  precision: Precision;
  init: string;
  kernel: string;
  steps: number;
  cells: number;
  /** Million lattice updates per second, timed around the kernel in native code. */
  mlups: number;
  kernelSeconds: number;
  wallSeconds: number;
  initialEnergy: number;
  finalEnergy: number;
  /** |E_end - E_0| / E_0. */
  energyDrift: number;
  /** Largest drift seen at any progress checkpoint. */
  maxEnergyDrift: number;
  /** Cells per balanced-nonary digit, keys "-4" .. "4". */
  readoutHistogram: Record<string, number>;
}

/** Number of progress updates (and energy checkpoints) over a run. */
const CHECKPOINTS = 100;

/** |E - E0| / |E0|, or |E| when E0 is 0. */
export function relativeDrift(energy: number, initial: number): number {
  return initial === 0 ? Math.abs(energy) : Math.abs(energy - initial) / Math.abs(initial);
}

export function readoutHistogram(digits: Int8Array): Record<string, number> {
  const counts = new Array<number>(9).fill(0);
  for (const digit of digits) counts[digit + 4]!++;
  return Object.fromEntries(counts.map((count, i) => [String(i - 4), count]));
}

/** The lattice `options` describe, in its initial state; the caller closes it. */
export function seededLattice(options: SimulateOptions): Lattice {
  const lattice = new Lattice({
    extents: options.extents,
    c: options.c,
    h: options.h,
    dt: options.dt,
    precision: options.precision,
    threads: options.threads,
    kernel: options.kernel,
  });
  try {
    const state = initialState(options.init, lattice, options.seed);
    lattice.setState(state.previous, state.current);
    return lattice;
  } catch (error) {
    lattice.close();
    throw error;
  }
}

export function simulate(
  options: SimulateOptions,
  onProgress: (stepsDone: number, energyDrift: number) => void = () => {},
): SimulationSummary {
  requireInteger('steps', options.steps, 0);
  const lattice = seededLattice(options);
  try {
    const initialEnergy = lattice.initialEnergy;
    const chunk = Math.max(1, Math.ceil(options.steps / CHECKPOINTS));
    let kernelNs = 0;
    let maxEnergyDrift = 0;
    const started = process.hrtime.bigint();
    for (let done = 0; done < options.steps; ) {
      const n = Math.min(chunk, options.steps - done);
      lattice.step(n);
      kernelNs += lattice.lastStepNs;
      done += n;
      const drift = relativeDrift(lattice.energy(), initialEnergy);
      maxEnergyDrift = Math.max(maxEnergyDrift, drift);
      onProgress(done, drift);
    }
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const finalEnergy = lattice.energy();
    const kernelSeconds = kernelNs / 1e9;
    return {
      extents: [...lattice.extents],
      precision: lattice.precision,
      init: options.init,
      kernel: lattice.kernelName,
      steps: lattice.stepCount,
      cells: lattice.cells,
      mlups: kernelSeconds > 0 ? (lattice.cells * options.steps) / kernelSeconds / 1e6 : 0,
      kernelSeconds,
      wallSeconds,
      initialEnergy,
      finalEnergy,
      energyDrift: relativeDrift(finalEnergy, initialEnergy),
      maxEnergyDrift,
      readoutHistogram: readoutHistogram(lattice.readout()),
    };
  } finally {
    lattice.close();
  }
}

export function formatSummary(summary: SimulationSummary): string {
  const total = summary.cells;
  const widest = Math.max(...Object.values(summary.readoutHistogram));
  // Integer-like keys iterate in ascending order from "0", so walk the digits explicitly.
  const digits = Array.from({ length: 9 }, (_, i) => String(i - 4));
  const bars = digits.map((digit) => {
    const count = summary.readoutHistogram[digit] ?? 0;
    const bar = '#'.repeat(widest > 0 ? Math.round((40 * count) / widest) : 0);
    const share = ((100 * count) / total).toFixed(1).padStart(5);
    return `  ${digit.padStart(2)} ${String(count).padStart(10)} ${share}%  ${bar}`;
  });
  return [
    `lattice        ${summary.extents.join(' x ')} ${summary.precision} (${summary.cells} cells), init ${summary.init}`,
    `kernel         ${summary.kernel}`,
    `steps          ${summary.steps}`,
    `throughput     ${summary.mlups.toFixed(1)} MLUPS (kernel ${summary.kernelSeconds.toFixed(3)} s, wall ${summary.wallSeconds.toFixed(3)} s)`,
    `energy         ${summary.initialEnergy.toExponential(6)} -> ${summary.finalEnergy.toExponential(6)}`,
    `energy drift   ${summary.energyDrift.toExponential(2)} at the end, ${summary.maxEnergyDrift.toExponential(2)} at most`,
    'readout histogram (balanced nonary digit, cells):',
    ...bars,
  ].join('\n');
}
