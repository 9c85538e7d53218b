/**
 * `ouroboros simulate`: run one lattice for a number of steps and report the
 * throughput, the energy drift and the readout histogram.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FieldArray, Precision } from '../../native/addon-types.js';
import { type HandoffReport, Lattice } from '../lattice/lattice.js';
import { initialState } from '../lattice/initial-conditions.js';
import { requireInteger } from '../errors.js';
import { useUserKernel } from './simulate-kernel.js';

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
  /** The user's kernel module: a `.so` runs confined in a kernel host, a `.node` addon only with `trustNativeAddon`. */
  kernel?: string;
  /** Load a `.node` addon (`kernel`, or `--modules` of `--swap-every`) in this process: the user vouches for it. */
  trustNativeAddon?: boolean;
  /** Checkpoint file, written every `checkpointEvery` steps (or once at the end). */
  checkpoint?: string;
  checkpointEvery?: number;
  /** Checkpoint file to go on from; `steps` is then the step count to reach. */
  resume?: string;
  /** File the final levels are written to: u^{n-1} then u^n, raw little-endian values. */
  dump?: string;
  /** Restart the process by exec when the step count reaches this. */
  restartExecAt?: number;
}

export interface SimulationSummary {
  extents: number[];
  precision: Precision;
  init: string;
  kernel: string;
  /** Whether the kernel stepped in a kernel host (a user's `.so` given as `--kernel`). */
  kernelConfined: boolean;
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
  pid: number;
  /** The step count this process started stepping from (non-zero after a resume or restart). */
  startStep: number;
  checkpointsWritten: number;
  /** How the lattice came back, when it was resumed or restarted; its warnings name any module not reloaded. */
  handoff: HandoffReport | null;
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

/**
 * The lattice `options` describe, in its initial state, with the user's
 * `kernel` live in every slot (confined: the lattice is then in a segment
 * for its kernel host to map); the caller closes it.
 */
export async function seededLattice(options: SimulateOptions, sharedState = false): Promise<Lattice> {
  const lattice = new Lattice({
    sharedState: sharedState || options.kernel !== undefined,
    extents: options.extents,
    c: options.c,
    h: options.h,
    dt: options.dt,
    precision: options.precision,
    threads: options.threads,
  });
  try {
    if (options.kernel !== undefined) await useUserKernel(lattice, options.kernel, options.trustNativeAddon === true);
    const state = initialState(options.init, lattice, options.seed);
    lattice.setState(state.previous, state.current);
    return lattice;
  } catch (error) {
    lattice.close();
    throw error;
  }
}

/** The lattice a run starts from: inherited from a restart, resumed from a checkpoint, or seeded. */
async function startingLattice(options: SimulateOptions): Promise<Lattice> {
  const threads = options.threads === undefined ? {} : { threads: options.threads };
  const inherited = await Lattice.inherited(threads);
  if (inherited) return inherited;
  if (options.resume !== undefined) return Lattice.resume(options.resume, threads);
  return seededLattice(options, options.checkpoint !== undefined || options.restartExecAt !== undefined);
}

function bytesOf(field: FieldArray): Buffer {
  return Buffer.from(field.buffer, field.byteOffset, field.byteLength);
}

/** The next step count to stop at: the progress chunk's end, a checkpoint or the exec restart. */
function nextStop(options: SimulateOptions, at: number, chunk: number): number {
  let stop = Math.min(options.steps, at + chunk);
  if (options.checkpointEvery !== undefined) stop = Math.min(stop, (Math.floor(at / options.checkpointEvery) + 1) * options.checkpointEvery);
  if (options.restartExecAt !== undefined && options.restartExecAt > at) stop = Math.min(stop, options.restartExecAt);
  return stop;
}

/**
 * Runs the lattice up to step count `options.steps`, checkpointing and
 * restarting as asked, and reports. A resumed or inherited lattice goes on
 * from its own step count.
 */
export async function simulate(options: SimulateOptions, onProgress: (stepsDone: number, energyDrift: number) => void = () => {}): Promise<SimulationSummary> {
  requireInteger('steps', options.steps, 0);
  const lattice = await startingLattice(options);
  try {
    const initialEnergy = lattice.initialEnergy;
    const startStep = lattice.stepCount;
    const chunk = Math.max(1, Math.ceil((options.steps - startStep) / CHECKPOINTS));
    let kernelNs = 0;
    let maxEnergyDrift = 0;
    let checkpointsWritten = 0;
    const started = process.hrtime.bigint();
    while (lattice.stepCount < options.steps) {
      const at = lattice.stepCount;
      lattice.step(nextStop(options, at, chunk) - at);
      kernelNs += lattice.lastStepNs;
      const drift = relativeDrift(lattice.energy(), initialEnergy);
      maxEnergyDrift = Math.max(maxEnergyDrift, drift);
      onProgress(lattice.stepCount - startStep, drift);
      if (options.checkpointEvery !== undefined && lattice.stepCount % options.checkpointEvery === 0) {
        lattice.checkpoint(options.checkpoint!);
        checkpointsWritten++;
      }
      if (lattice.stepCount === options.restartExecAt) await lattice.restart({ mode: 'exec' });
    }
    if (options.checkpoint !== undefined && options.checkpointEvery === undefined) {
      lattice.checkpoint(options.checkpoint);
      checkpointsWritten++;
    }
    if (options.dump !== undefined) {
      mkdirSync(path.dirname(path.resolve(options.dump)), { recursive: true });
      writeFileSync(options.dump, Buffer.concat([bytesOf(lattice.previousField()), bytesOf(lattice.field())]));
    }
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const finalEnergy = lattice.energy();
    const kernelSeconds = kernelNs / 1e9;
    const stepsRun = lattice.stepCount - startStep;
    return {
      extents: [...lattice.extents],
      precision: lattice.precision,
      init: options.resume === undefined && lattice.handoff === null ? options.init : 'resumed',
      kernel: lattice.kernelName,
      kernelConfined: lattice.isConfined(lattice.slots().step.live.id),
      steps: lattice.stepCount,
      cells: lattice.cells,
      mlups: kernelSeconds > 0 ? (lattice.cells * stepsRun) / kernelSeconds / 1e6 : 0,
      kernelSeconds,
      wallSeconds,
      initialEnergy,
      finalEnergy,
      energyDrift: relativeDrift(finalEnergy, initialEnergy),
      maxEnergyDrift,
      readoutHistogram: readoutHistogram(lattice.readout()),
      pid: process.pid,
      startStep,
      checkpointsWritten,
      handoff: lattice.handoff,
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
