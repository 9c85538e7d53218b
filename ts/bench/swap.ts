/**
 * `ouroboros bench swap`: hot swap under load. While the runner steps a
 * lattice beyond the last-level cache (2048x2048 f64, 96 MiB of state), swap
 * the step slot between two bitwise-identical modules (rows and rows-twin)
 * 1,000 times, and measure in the same run:
 *
 * - lostSteps / duplicatedSteps: from the runner's native trace of its batches
 *   (every step index exactly once, in order, each batch starting where the
 *   last one ended), and the final state compared bitwise with a run of as
 *   many steps without swaps;
 * - pauseUs: each swap's gap (end of the last batch on the old code to the
 *   start of the first on the new one, timed natively) minus the median gap
 *   between batches without a swap;
 * - pauseSteps: steps each swap waited for on the old code, the steps of the
 *   batch in flight when it was asked for (a swap takes effect at a batch
 *   boundary), with batchSteps, the batch sizes the runner used;
 * - throughputOverheadPct: runner batches (slot lookup, profiler, trace
 *   check, boundary check) against direct one-step calls of the same
 *   function pointer, alternating chunks on the same state: the median of
 *   the per-round overheads (each round's figure is in roundOverheadsPct);
 * - loadModuleMs: the whole loadModule path (copy, probe child, self-test, dlopen);
 * - batching: live MLUPS of the rows kernel at 4096^2 (the main job's
 *   lattice) in batches of BATCHING_STEPS steps (a latency bound no batch
 *   reaches, so the batch size does not depend on the machine's load: on a
 *   busy machine a 4096^2 step can take longer than the default 50 ms and
 *   the default would give one step per call) against a latency of 1 ns
 *   (one step per call), in interleaved runs on two lattices of the same
 *   state: what asking for several steps per call costs a kernel that does
 *   not fuse them (nothing, if the runner is right).
 */
import os from 'node:os';
import type { CoreLattice } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath } from '../../native/loader.js';
import { randomState } from '../lattice/initial-conditions.js';
import { loadKernelModule } from '../modules/module-manager.js';
import type { BenchRunOptions } from './suites.js';

interface SwapPlan {
  extents: number[];
  swaps: number;
  overheadChunkSteps: number;
  overheadRounds: number;
  batchingExtents: number[];
  batchingSteps: number;
  batchingRounds: number;
}

export interface BatchingFigures {
  extents: number[];
  /** The batched lattice's bound: its batches are maxBatchSteps long. */
  batchLatencyMs: number;
  maxBatchSteps: number;
  stepsPerRound: number;
  /** Medians over the rounds. */
  batchedMlups: number;
  singleStepMlups: number;
  /** batched / single-step, per round (same round, same state), and their median. */
  roundRatios: number[];
  medianRatio: number;
  /** Steps per call the batched runner reached. */
  batchSteps: number;
}

export interface SwapBenchReport {
  benchmark: 'swap';
  date: string;
  machine: { cpu: string; cores: number; node: string };
  extents: number[];
  precision: 'f64';
  stateBytes: number;
  threads: number;
  modules: string[];
  swaps: number;
  stepsDuringSwaps: number;
  lostSteps: number;
  duplicatedSteps: number;
  bitwiseEqualToNoSwapRun: boolean;
  /** Gaps between consecutive batches with no swap between them: the runner's ordinary jitter. */
  normalStepGapUs: { p50: number; p99: number; max: number };
  pauseUs: { p50: number; p99: number; max: number };
  /** Steps each swap waited for on the old code after it was asked for (0: it came between two batches). */
  pauseSteps: { p50: number; p99: number; max: number };
  /** Steps per runner batch (kernel call) during the swaps. */
  batchSteps: { p50: number; p99: number; max: number };
  rawSwapGapUs: { p50: number; p99: number; max: number };
  stepMs: number;
  directStepMs: number;
  throughputOverheadPct: number;
  roundOverheadsPct: number[];
  loadModuleMs: number;
  batching: BatchingFigures;
}

const DT = 0.6;
/** Steps per call of the batched side of the batching comparison: the depth a fused kernel pays at. */
const BATCHING_STEPS = 8;
/** A bound no 4096^2 batch of BATCHING_STEPS comes near, even on a loaded machine. */
const BATCHING_LATENCY_MS = 10_000;

function plan(quick: boolean): SwapPlan {
  return quick
    ? { extents: [128, 128], swaps: 50, overheadChunkSteps: 50, overheadRounds: 2, batchingExtents: [256, 256], batchingSteps: 200, batchingRounds: 2 }
    : { extents: [2048, 2048], swaps: 1000, overheadChunkSteps: 100, overheadRounds: 7, batchingExtents: [4096, 4096], batchingSteps: 200, batchingRounds: 7 };
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 };
}

function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/**
 * Runner vs direct calls in alternating chunks on one state; returns ns per
 * step of each and the median of the per-round overheads, which a one-off
 * disturbance in a single chunk cannot move much.
 */
async function measureOverhead(core: CoreLattice, p: SwapPlan) {
  let runnerNs = 0;
  let directNs = 0;
  const roundOverheadsPct: number[] = [];
  for (let round = 0; round < p.overheadRounds; round++) {
    const direct = core.directSteps(p.overheadChunkSteps);
    const runner = (await core.run(p.overheadChunkSteps, 0, null)).runNs;
    directNs += direct;
    runnerNs += runner;
    roundOverheadsPct.push((100 * (runner - direct)) / direct);
  }
  const steps = p.overheadRounds * p.overheadChunkSteps;
  return {
    runnerNsPerStep: runnerNs / steps,
    directNsPerStep: directNs / steps,
    medianOverheadPct: percentile(
      [...roundOverheadsPct].sort((a, b) => a - b),
      0.5,
    ),
    roundOverheadsPct,
  };
}

/** Counts step indices the trace of batches skips and ones it repeats (or takes out of order). */
export function sequenceCheck(first: ArrayLike<number>, steps: ArrayLike<number>) {
  let lost = 0;
  let duplicated = 0;
  let expected = 0;
  for (let i = 0; i < first.length; i++) {
    const start = first[i]!;
    const end = start + steps[i]!;
    if (start > expected) lost += start - expected;
    if (start < expected) duplicated += Math.min(end, expected) - start;
    expected = Math.max(expected, end);
  }
  return { lost, total: expected, duplicated };
}

/**
 * Steps a swap asked for at `requestNs` (the native steady clock) waited on
 * the old code: the steps of the batch in flight then (a batch is one call), 0 between batches.
 */
export function stepsWaited(
  trace: { step: ArrayLike<number>; startNs: ArrayLike<number>; endNs: ArrayLike<number> },
  requestNs: number,
  appliedAtStep: number,
): number {
  for (let i = 0; i < trace.step.length; i++) {
    if (trace.startNs[i]! <= requestNs && requestNs < trace.endNs[i]!) return appliedAtStep - trace.step[i]!;
  }
  return 0;
}

/**
 * Runner MLUPS in batches of BATCHING_STEPS against one step per call,
 * alternating which goes first, each round from the same state.
 */
async function measureBatching(p: SwapPlan, kernelPath: string, threads: number): Promise<BatchingFigures> {
  const extents = p.batchingExtents;
  const cells = extents.reduce((a, b) => a * b, 1);
  const make = (batchLatencyNs: number) =>
    new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath, threads, batchLatencyNs, maxBatchSteps: BATCHING_STEPS });
  const batched = make(BATCHING_LATENCY_MS * 1e6);
  const single = make(1);
  try {
    const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 23);
    const mlups = async (core: CoreLattice) => {
      core.setState(initial.previous, initial.current);
      const ended = await core.run(p.batchingSteps, 0, null);
      if (ended.error) throw new Error(`the run failed: ${ended.error}`);
      return (cells * ended.stepsRun) / (ended.runNs / 1e3);
    };
    // A first run each, so that both have touched their pages and the sizer has measured the kernel.
    await mlups(batched);
    await mlups(single);
    const batchedMlups: number[] = [];
    const singleMlups: number[] = [];
    for (let round = 0; round < p.batchingRounds; round++) {
      for (const which of round % 2 === 0 ? [batched, single] : [single, batched]) {
        (which === batched ? batchedMlups : singleMlups).push(await mlups(which));
      }
    }
    const roundRatios = batchedMlups.map((value, i) => value / singleMlups[i]!);
    const middle = (values: number[]) =>
      percentile(
        [...values].sort((a, b) => a - b),
        0.5,
      );
    return {
      extents,
      batchLatencyMs: BATCHING_LATENCY_MS,
      maxBatchSteps: BATCHING_STEPS,
      stepsPerRound: p.batchingSteps,
      batchedMlups: middle(batchedMlups),
      singleStepMlups: middle(singleMlups),
      roundRatios,
      medianRatio: middle(roundRatios),
      batchSteps: batched.batchSteps,
    };
  } finally {
    batched.close();
    single.close();
  }
}

type LoadedModule = Awaited<ReturnType<typeof loadKernelModule>>;
type InitialState = ReturnType<typeof randomState>;
type Trace = ReturnType<CoreLattice['takeTrace']>;

/** What the swaps while running left: each swap's native gap, when it was asked for, and the trace of batches. */
interface SwapRun {
  gapsNs: number[];
  requests: { requestNs: number; appliedAtStep: number }[];
  trace: Trace;
  stepsDuringSwaps: number;
  swapped: ReturnType<CoreLattice['levels']>;
}

/** Swaps the step slot between `rows` and `twin` `p.swaps` times while the runner steps from `initial`. */
async function swapWhileRunning(core: CoreLattice, p: SwapPlan, initial: InitialState, rows: LoadedModule, twin: LoadedModule): Promise<SwapRun> {
  core.setState(initial.previous, initial.current);
  core.traceSteps(64 * p.swaps + 10_000);
  const run = core.run(0, 0, null);
  const gapsNs: number[] = [];
  // process.hrtime is CLOCK_MONOTONIC, the clock of the native trace.
  const requests: { requestNs: number; appliedAtStep: number }[] = [];
  for (let i = 0; i < p.swaps; i++) {
    const requestNs = Number(process.hrtime.bigint());
    const outcome = await core.swap('step', i % 2 === 0 ? twin.id : rows.id);
    if (outcome.firstStepRan) {
      gapsNs.push(outcome.gapNs);
      requests.push({ requestNs, appliedAtStep: outcome.appliedAtStep });
    }
  }
  core.stop();
  const ended = await run;
  if (ended.error) throw new Error(`the run failed: ${ended.error}`);
  return { gapsNs, requests, trace: core.takeTrace(), stepsDuringSwaps: core.stepCount, swapped: core.levels() };
}

/** The trace's accounting: the gaps between batches with no swap between them, lost and duplicated steps, and steps each swap waited. */
function traceFigures({ trace, stepsDuringSwaps, requests }: SwapRun) {
  // Gaps between consecutive steps, less those right after a swap: the normal inter-step gap.
  const swapSteps = new Set<number>();
  for (let i = 1; i < trace.step.length; i++) if (trace.moduleId[i] !== trace.moduleId[i - 1]) swapSteps.add(i);
  const normalGaps: number[] = [];
  for (let i = 1; i < trace.step.length; i++) {
    if (!swapSteps.has(i)) normalGaps.push(trace.startNs[i]! - trace.endNs[i - 1]!);
  }
  const sequence = sequenceCheck(trace.step, trace.steps);
  if (sequence.total !== stepsDuringSwaps) sequence.lost += Math.max(0, stepsDuringSwaps - sequence.total);
  const waited = requests.map(({ requestNs, appliedAtStep }) => stepsWaited(trace, requestNs, appliedAtStep));
  return { normalGap: summary(normalGaps), sequence, waited };
}

/** Whether as many steps from `initial` without swaps, by direct calls, end in the bits the swapped run ended in. */
function equalsNoSwapRun(core: CoreLattice, initial: InitialState, { stepsDuringSwaps, swapped }: SwapRun): boolean {
  core.setState(initial.previous, initial.current);
  core.directSteps(stepsDuringSwaps);
  const plain = core.levels();
  return sameBits(plain.current, swapped.current) && sameBits(plain.previous, swapped.previous);
}

/** What benchSwap's steps measured, for the report. */
interface SwapMeasurements {
  overhead: Awaited<ReturnType<typeof measureOverhead>>;
  swaps: SwapRun;
  bitwiseEqual: boolean;
  batching: BatchingFigures;
}

/** The report's figures, from what each step measured. */
function swapReport(p: SwapPlan, threads: number, modules: [LoadedModule, LoadedModule], measured: SwapMeasurements): SwapBenchReport {
  const { overhead, swaps, bitwiseEqual, batching } = measured;
  const { normalGap, sequence, waited } = traceFigures(swaps);
  const { gapsNs, stepsDuringSwaps, trace } = swaps;
  const [rows, twin] = modules;
  const cpus = os.cpus();
  return {
    benchmark: 'swap',
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version },
    extents: p.extents,
    precision: 'f64',
    stateBytes: 3 * 8 * p.extents.reduce((a, b) => a * b, 1),
    threads,
    modules: [rows.name, twin.name],
    swaps: gapsNs.length,
    stepsDuringSwaps,
    lostSteps: sequence.lost,
    duplicatedSteps: sequence.duplicated,
    bitwiseEqualToNoSwapRun: bitwiseEqual,
    normalStepGapUs: { p50: normalGap.p50 / 1e3, p99: normalGap.p99 / 1e3, max: normalGap.max / 1e3 },
    pauseUs: summary(gapsNs.map((gap) => Math.max(0, gap - normalGap.p50) / 1e3)),
    pauseSteps: summary(waited),
    batchSteps: summary([...trace.steps]),
    rawSwapGapUs: summary(gapsNs.map((gap) => gap / 1e3)),
    stepMs: overhead.runnerNsPerStep / 1e6,
    directStepMs: overhead.directNsPerStep / 1e6,
    throughputOverheadPct: overhead.medianOverheadPct,
    roundOverheadsPct: overhead.roundOverheadsPct,
    loadModuleMs: (rows.loadMs + twin.loadMs) / 2,
    batching,
  };
}

export async function benchSwap(options: BenchRunOptions): Promise<SwapBenchReport> {
  const p = plan(options.quick);
  const log = options.onProgress;
  const threads = os.availableParallelism();
  const courant2 = DT * DT;
  const shape = { dimensions: p.extents.length, precision: 'f64' as const, courant2 };
  const rows = await loadKernelModule(kernelModulePath('rows'), shape);
  const twin = await loadKernelModule(kernelModulePath('rows_twin'), shape);
  const core = new (coreAddon().LatticeCore)({ extents: p.extents, courant2, precision: 'f64', kernelPath: rows.path, threads });
  try {
    const initial = randomState({ extents: p.extents, precision: 'f64', courantNumber: DT }, 17);
    core.setState(initial.previous, initial.current);
    log(`overhead: ${p.overheadRounds} x (${p.overheadChunkSteps} direct + ${p.overheadChunkSteps} runner steps)`);
    const overhead = await measureOverhead(core, p);
    log(`${p.swaps} swaps between ${rows.name} and ${twin.name} while running`);
    const swaps = await swapWhileRunning(core, p, initial, rows, twin);
    log(`no-swap run of ${swaps.stepsDuringSwaps} steps for the bitwise comparison`);
    const bitwiseEqual = equalsNoSwapRun(core, initial, swaps);
    // Freed before the batching runs, so that its two 4096^2 lattices do not share memory with this one.
    core.close();
    log(`batching: ${p.batchingRounds} interleaved rounds of ${p.batchingSteps} steps at ${p.batchingExtents.join('x')}, batched and one step per call`);
    const batching = await measureBatching(p, rows.path, threads);
    return swapReport(p, threads, [rows, twin], { overhead, swaps, bitwiseEqual, batching });
  } finally {
    core.close();
  }
}

export function formatSwapReport(report: SwapBenchReport): string {
  const us = (value: number) => `${value.toFixed(1)} us`;
  return [
    `lattice        ${report.extents.join('x')} ${report.precision} (${(report.stateBytes / 2 ** 20).toFixed(0)} MiB of state), ${report.threads} threads`,
    `modules        ${report.modules.join(' <-> ')}`,
    `swaps          ${report.swaps} over ${report.stepsDuringSwaps} steps`,
    `lost steps     ${report.lostSteps}   duplicated steps ${report.duplicatedSteps}   bitwise equal to a no-swap run: ${report.bitwiseEqualToNoSwapRun}`,
    `pause          p50 ${us(report.pauseUs.p50)}, p99 ${us(report.pauseUs.p99)}, max ${us(report.pauseUs.max)} ` +
      `beyond the normal ${us(report.normalStepGapUs.p50)} between steps ` +
      `(ordinary gaps: p99 ${us(report.normalStepGapUs.p99)}, max ${us(report.normalStepGapUs.max)})`,
    `pause steps    p50 ${report.pauseSteps.p50}, p99 ${report.pauseSteps.p99}, max ${report.pauseSteps.max} on the old code after the request ` +
      `(batches of p50 ${report.batchSteps.p50}, max ${report.batchSteps.max} steps)`,
    `overhead       ${report.throughputOverheadPct.toFixed(2)}% (runner in batches ${report.stepMs.toFixed(3)} ms/step, direct one-step calls ${report.directStepMs.toFixed(3)} ms/step)`,
    `load module    ${report.loadModuleMs.toFixed(1)} ms (copy, probe child, self-test, dlopen)`,
    `batching       ${report.batching.extents.join('x')}: ${report.batching.batchedMlups.toFixed(0)} MLUPS in batches of ${report.batching.batchSteps} ` +
      `vs ${report.batching.singleStepMlups.toFixed(0)} one step per call: ` +
      `ratio ${report.batching.medianRatio.toFixed(3)} (rounds ${report.batching.roundRatios.map((r) => r.toFixed(3)).join(' ')})`,
  ].join('\n');
}
