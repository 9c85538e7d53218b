/**
 * `ouroboros bench watchdog`: what the live checks of issue 14 cost, each
 * measured against its absence in the same run, in interleaved rounds (the
 * order alternates) so that a neighbour's burst on this shared machine falls
 * on both sides:
 *
 * - fpRestore: runner steps with and without the FP environment restore
 *   after every kernel call (`setFpRestore`), at 4096^2 f64 and at a small
 *   lattice where a step is short enough for the per-call cost to show;
 * - differential: live throughput (runner steps per second, timed natively
 *   over whole runs) at 4096^2 f64 with no watchdog, with the energy
 *   watchdog alone and with the energy and differential watchdog at the
 *   default cadence (the engine's everySteps and the default probe), and
 *   the JS thread's work for one probe (the oracle's k-step light cones at
 *   the cells the default probe keeps for the live batch size, and the
 *   comparison), timed alone and set against the time between two checks:
 *   on a shared 2-core machine whole-run throughput moves by tens of
 *   percent between rounds, far more than the cost being measured;
 * - fullCheck: the watchdog's full check of the whole lattice, due every
 *   DEFAULT_FULL_CHECK_EVERY_MS: the oracle's steps of the whole lattice
 *   (off the JS thread) and the JS thread's part (planning the whole-level
 *   probe and taking its level, beside the index list of every cell it
 *   replaced), timed alone and set against the cadence, counting the
 *   oracle's core as lost to the kernel outright; and live throughput in
 *   rounds that last until a full check forced at their start (the
 *   injected clock) has settled, against rounds of as many steps with none:
 *   the runner time lost to one full check, set against the cadence. The
 *   rounds run a core lattice under a Watchdog of their own, which says
 *   when its full check has settled.
 *
 * Figures are medians of the per-round percentages, each round's beside them.
 */
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CoreLattice } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { defaultConfig } from '../engine/config.js';
import { Lattice } from '../lattice/lattice.js';
import { cellCount, randomState } from '../lattice/initial-conditions.js';
import { ULPS_PER_STEP, compareProbe, drawProbeCells } from '../lattice/differential-check.js';
import {
  Watchdog,
  resolveDifferential,
  DEFAULT_FULL_CHECK_EVERY_MS,
  DEFAULT_PROBE_CELLS,
  DEFAULT_PROBE_CONE_VALUES,
  DEFAULT_PROBE_EVERY_SNAPSHOTS,
  type WatchdogOptions,
} from '../lattice/watchdog.js';
import { seededRandom } from '../util/random.js';
import type { BenchRunOptions } from './suites.js';
import { median } from '../util/median.js';

const DT = 0.6;
const KERNEL = 'rows';

interface WatchdogPlan {
  largeExtents: number[];
  smallExtents: number[];
  fpRounds: number;
  fpLargeSteps: number;
  fpSmallSteps: number;
  liveRounds: number;
  liveSteps: number;
}

function plan(quick: boolean): WatchdogPlan {
  return quick
    ? { largeExtents: [256, 256], smallExtents: [16, 16], fpRounds: 3, fpLargeSteps: 20, fpSmallSteps: 2000, liveRounds: 2, liveSteps: 120 }
    : { largeExtents: [4096, 4096], smallExtents: [16, 16], fpRounds: 31, fpLargeSteps: 6, fpSmallSteps: 50_000, liveRounds: 10, liveSteps: 150 };
}

export interface RoundedFigure {
  /** Median over rounds of (with - without) / without, in percent. */
  medianPct: number;
  roundPct: number[];
}

export interface FpRestoreFigures extends RoundedFigure {
  extents: number[];
  stepsPerRound: number;
  nsPerStepWith: number;
  nsPerStepWithout: number;
}

export interface WatchdogBenchReport {
  benchmark: 'watchdog';
  date: string;
  machine: { cpu: string; cores: number; node: string };
  kernel: string;
  threads: number;
  fpRestore: FpRestoreFigures[];
  differential: {
    extents: number[];
    precision: 'f64';
    everySteps: number;
    probeCells: number;
    probeEverySnapshots: number;
    /** The live batch size the runner reached, and the steps a delayed probe checks (a one-step call and that batch). */
    liveBatchSteps: number;
    probeSteps: number;
    /** Cells the default probe keeps for a probe of probeSteps steps (the light-cone budget). */
    probedCells: number;
    stepsPerRound: number;
    stepsPerSecond: { none: number; energy: number; energyAndDifferential: number };
    /** Throughput lost to the differential check, against the energy watchdog alone. */
    differentialCostPct: RoundedFigure;
    /** Throughput lost to the whole watchdog, against none. */
    watchdogCostPct: RoundedFigure;
    /** The JS thread's part of one differential check: the oracle's step at the probed cells and the comparison. */
    checkMsPerProbe: number;
    /**
     * That part as a share of the time between two checks (everySteps steps
     * at the energy watchdog's rate), counting it as lost to the kernel
     * outright: the A/B figure above is this machine's noise, this one the cost.
     */
    accountedCostPct: number;
  };
  fullCheck: {
    extents: number[];
    everyMs: number;
    /** The steps it checked (the probe's: a one-step call and the live batch). */
    steps: number;
    /** The oracle's steps of the whole lattice and the comparison, on a libuv thread (median of 3). */
    oracleMs: number;
    /**
     * The JS thread's part beyond an unprobed snapshot's (median of 3): planning the whole-level probe and
     * taking its level with copySnapshot, on a core lattice.
     */
    jsMs: number;
    /** The same with the index list of every cell the watchdog built before the whole-level probe, and its copies. */
    indexListJsMs: number;
    /** (oracleMs + jsMs) over the cadence: the oracle's core counted as lost to the kernel outright. */
    accountedCostPct: number;
    stepsPerSecond: { without: number; withFullCheck: number };
    /** The longest the event loop waited in a round (median over rounds): the JS thread's work blocks it, the oracle's does not. */
    longestEventLoopStallMs: { without: number; withFullCheck: number };
    /** Per round: the runner time one full check cost, over the cadence. */
    measuredCostPct: RoundedFigure;
  };
}

function rounded(roundPct: number[]): RoundedFigure {
  return { medianPct: median(roundPct), roundPct };
}

async function runnerNsPerStep(core: CoreLattice, steps: number): Promise<number> {
  const summary = await core.run(steps, 0, null);
  if (summary.error) throw new Error(`the run failed: ${summary.error}`);
  return summary.runNs / summary.stepsRun;
}

async function measureFpRestore(extents: number[], steps: number, rounds: number, threads: number): Promise<FpRestoreFigures> {
  const core = new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath: kernelModulePath(KERNEL), threads });
  try {
    const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 3);
    core.setState(initial.previous, initial.current);
    await runnerNsPerStep(core, Math.max(1, Math.floor(steps / 10)));
    const withNs: number[] = [];
    const withoutNs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const restore of round % 2 === 0 ? [true, false] : [false, true]) {
        core.setFpRestore(restore);
        (restore ? withNs : withoutNs).push(await runnerNsPerStep(core, steps));
      }
    }
    core.setFpRestore(true);
    const roundPct = withNs.map((ns, i) => (100 * (ns - withoutNs[i]!)) / withoutNs[i]!);
    return {
      extents,
      stepsPerRound: steps,
      nsPerStepWith: median(withNs),
      nsPerStepWithout: median(withoutNs),
      ...rounded(roundPct),
    };
  } finally {
    core.close();
  }
}

type LiveMode = 'none' | 'energy' | 'energyAndDifferential';

async function liveStepsPerSecond(lat: Lattice, mode: LiveMode, steps: number, everySteps: number): Promise<number> {
  const watchdog: WatchdogOptions | undefined = mode === 'none' ? undefined : { everySteps, differential: mode === 'energy' ? false : {} };
  let rollbacks = 0;
  const onRollback = () => (rollbacks += 1);
  lat.on('watchdog', onRollback);
  try {
    const summary = await lat.run({ steps, watchdog });
    if (summary.error) throw new Error(`the run failed: ${summary.error}`);
    if (rollbacks > 0) throw new Error(`the watchdog rolled back a correct kernel (${mode})`);
    return summary.stepsRun / (summary.runNs / 1e9);
  } finally {
    lat.off('watchdog', onRollback);
  }
}

/** Cells the core keeps of `drawn` for a probe of `steps` steps under the default light-cone budget. */
function keptCells(drawn: number, dims: number, steps: number): number {
  return Math.min(drawn, Math.max(1, Math.floor(DEFAULT_PROBE_CONE_VALUES / (2 * steps + 1) ** dims)));
}

/** One probe's work on the JS thread, as the watchdog does it: the inputs gathered, the oracle's k steps, the comparison. */
function checkMsPerProbe(extents: number[], steps: number): number {
  const cells = extents.reduce((a, b) => a * b, 1);
  const state = randomState({ extents, precision: 'f64', courantNumber: DT }, 5);
  const previous = state.previous as Float64Array;
  const current = state.current as Float64Array;
  const random = seededRandom(1);
  const oracle = oracleAddon();
  const repetitions = 20;
  let totalNs = 0n;
  for (let i = 0; i < repetitions; i++) {
    const drawn = drawProbeCells(cells, DEFAULT_PROBE_CELLS, random);
    const kept = keptCells(drawn.length, extents.length, steps);
    const probe = Float64Array.from({ length: kept }, (_, j) => drawn[Math.floor((j * drawn.length) / kept)]!);
    const start = process.hrtime.bigint();
    const expected = oracle.stepAtCellsF64(previous, current, extents, DT * DT, steps, probe);
    const termScale = oracle.cellsTermScaleF64(previous, current, extents, DT * DT, steps, probe);
    compareProbe(probe, expected, expected, termScale, 'f64', steps);
    totalNs += process.hrtime.bigint() - start;
  }
  return Number(totalNs) / 1e6 / repetitions;
}

async function measureDifferential(p: WatchdogPlan, threads: number, log: (message: string) => void) {
  const everySteps = defaultConfig.watchdog.everySteps;
  const lat = new Lattice({ extents: p.largeExtents, dt: DT, threads, kernel: kernelModulePath(KERNEL) });
  try {
    const initial = randomState(lat, 9);
    lat.setState(initial.previous, initial.current);
    const modes: LiveMode[] = ['none', 'energy', 'energyAndDifferential'];
    const rates: Record<LiveMode, number[]> = { none: [], energy: [], energyAndDifferential: [] };
    for (let round = 0; round < p.liveRounds; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        rates[mode].push(await liveStepsPerSecond(lat, mode, p.liveSteps, everySteps));
        log(`round ${round + 1}/${p.liveRounds} ${mode}: ${rates[mode].at(-1)!.toFixed(2)} steps/s`);
      }
    }
    const lossPct = (slower: number[], faster: number[]) => slower.map((rate, i) => (100 * (faster[i]! - rate)) / faster[i]!);
    // The worst of the two probes the coin picks: a one-step call and then the live batch.
    const liveBatchSteps = lat.batchSteps;
    const probeSteps = liveBatchSteps + 1;
    const checkMs = checkMsPerProbe(p.largeExtents, probeSteps);
    const msBetweenChecks = (1000 * everySteps) / median(rates.energy);
    return {
      extents: p.largeExtents,
      precision: 'f64' as const,
      everySteps,
      probeCells: DEFAULT_PROBE_CELLS,
      probeEverySnapshots: DEFAULT_PROBE_EVERY_SNAPSHOTS,
      liveBatchSteps,
      probeSteps,
      probedCells: keptCells(DEFAULT_PROBE_CELLS, p.largeExtents.length, probeSteps),
      stepsPerRound: p.liveSteps,
      stepsPerSecond: { none: median(rates.none), energy: median(rates.energy), energyAndDifferential: median(rates.energyAndDifferential) },
      differentialCostPct: rounded(lossPct(rates.energyAndDifferential, rates.energy)),
      watchdogCostPct: rounded(lossPct(rates.energyAndDifferential, rates.none)),
      checkMsPerProbe: checkMs,
      accountedCostPct: (100 * checkMs) / msBetweenChecks,
    };
  } finally {
    lat.close();
  }
}

/** One full check's parts, timed alone: the oracle's (off the JS thread) and the JS thread's, in both probe modes. */
async function fullCheckMs(extents: number[], steps: number, threads: number) {
  const state = randomState({ extents, precision: 'f64', courantNumber: DT }, 7);
  const previous = state.previous as Float64Array;
  const current = state.current as Float64Array;
  const oracle = oracleAddon();
  const actual = oracle.stepF64(previous, current, extents, DT * DT, steps).current;
  const oracleMs: number[] = [];
  const jsMs: number[] = [];
  const indexListJsMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    jsMs.push(await probeJsMs(extents, threads, 'whole-level'));
    indexListJsMs.push(await probeJsMs(extents, threads, 'index-list'));
    const started = process.hrtime.bigint();
    const answer = oracle.fullCheckF64Async(previous, current, extents, DT * DT, steps, actual, ULPS_PER_STEP);
    if ((await answer) !== null) throw new Error('the full check refused the oracle its own steps');
    oracleMs.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { oracleMs: median(oracleMs), jsMs: median(jsMs), indexListJsMs: median(indexListJsMs) };
}

/**
 * The JS thread's time for one full check's probe beyond an unprobed
 * snapshot's, on a core lattice: planning it (a whole-level probe, or the
 * index list of every cell the watchdog built before it) and taking its
 * values with copySnapshot, less copySnapshot of the same snapshot unprobed
 * (both levels, which every snapshot's energy check copies anyway).
 */
async function probeJsMs(extents: number[], threads: number, mode: 'whole-level' | 'index-list' | 'none'): Promise<number> {
  const core = new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath: kernelModulePath(KERNEL), threads });
  const cells = cellCount(extents);
  const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 11);
  core.setState(initial.previous, initial.current);
  const levels = { previous: new Float64Array(cells), current: new Float64Array(cells) };
  try {
    const planStarted = process.hrtime.bigint();
    if (mode === 'whole-level') core.setProbeWholeLevel(false, false);
    if (mode === 'index-list') {
      const everyCell = new Float64Array(cells);
      for (let cell = 0; cell < cells; cell++) everyCell[cell] = cell;
      core.setProbe(everyCell, false, 0, false);
    }
    const planMs = Number(process.hrtime.bigint() - planStarted) / 1e6;
    let copyMs = 0;
    // Only the run's first snapshot, at its start, is taken: its probe spans the first batch.
    const run = core.run(2 * core.batchSteps, 2 ** 40, (step) => {
      const started = process.hrtime.bigint();
      const snapshot = core.copySnapshot(levels.previous, levels.current);
      copyMs = Number(process.hrtime.bigint() - started) / 1e6;
      const probed = snapshot?.probeLevel?.length ?? snapshot?.probeValues.length ?? 0;
      if (probed !== (mode === 'none' ? 0 : cells)) throw new Error(`the ${mode} probe took ${probed} of ${cells} cells`);
      core.settleSnapshot(step, true);
    });
    const summary = await run;
    if (summary.error) throw new Error(`the run failed: ${summary.error}`);
    return mode === 'none' ? copyMs : planMs + copyMs - (await probeJsMs(extents, threads, 'none'));
  } finally {
    core.close();
  }
}

/** A core lattice under this module's own watchdog, so that a round can wait for its full check to settle. */
function watchedCore(extents: number[], threads: number, withFullCheck: boolean, clock: { ms: number }) {
  const core = new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath: kernelModulePath(KERNEL), threads });
  const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 11);
  core.setState(initial.previous, initial.current);
  const energy = oracleAddon().energy(initial.previous as Float64Array, initial.current as Float64Array, extents, 1, 1, DT);
  const physics = { extents, c: 1, h: 1, dt: DT, courant2: DT * DT, precision: 'f64' as const };
  const plan = resolveDifferential({ fullCheckEveryMs: withFullCheck ? DEFAULT_FULL_CHECK_EVERY_MS : 0, now: () => clock.ms }, cellCount(extents));
  const rollbacks: string[] = [];
  const watchdog = new Watchdog(core, physics, energy, 1e-9, plan, (event) => rollbacks.push(event.detail));
  return { core, watchdog, rollbacks };
}

/**
 * Runner steps per second over a round: with a full check, from the start
 * until the full check the first snapshot's check planned has settled (and
 * `stepsAtLeast` steps); without, for as many steps as the last such round.
 */
async function fullCheckRound(
  extents: number[],
  threads: number,
  everySteps: number,
  steps: number | null,
): Promise<{ stepsRun: number; rate: number; longestStallMs: number }> {
  const clock = { ms: 0 };
  const { core, watchdog, rollbacks } = watchedCore(extents, threads, steps === null, clock);
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  try {
    watchdog.prime();
    const run = core.run(steps ?? 0, everySteps, (step) => watchdog.check(step));
    clock.ms = DEFAULT_FULL_CHECK_EVERY_MS;
    if (steps === null) {
      // The full check is planned by the first snapshot's check and starts with the next: wait for it to start, then to settle.
      while (core.stepCount < 2 * everySteps + 1) await new Promise((resolve) => setTimeout(resolve, 10));
      await watchdog.fullCheckSettled();
      core.stop();
    }
    const summary = await run;
    if (summary.error) throw new Error(`the run failed: ${summary.error}`);
    if (rollbacks.length > 0) throw new Error(`the watchdog rolled back a correct kernel: ${rollbacks[0]}`);
    return { stepsRun: summary.stepsRun, rate: summary.stepsRun / (summary.runNs / 1e9), longestStallMs: stalls.max / 1e6 };
  } finally {
    stalls.disable();
    core.close();
  }
}

async function measureFullCheck(p: WatchdogPlan, threads: number, batchSteps: number, log: (message: string) => void) {
  const everySteps = defaultConfig.watchdog.everySteps;
  const rates = { without: [] as number[], withFullCheck: [] as number[] };
  const stallMs = { without: [] as number[], withFullCheck: [] as number[] };
  const lostMs: number[] = [];
  // A round with a full check lasts a little over two snapshot intervals; one without goes first on odd rounds.
  let withSteps = 2 * everySteps + 5;
  for (let round = 0; round < p.liveRounds; round++) {
    const first = round % 2 === 0 ? null : await fullCheckRound(p.largeExtents, threads, everySteps, withSteps);
    const withCheck = await fullCheckRound(p.largeExtents, threads, everySteps, null);
    withSteps = withCheck.stepsRun;
    const without = first ?? (await fullCheckRound(p.largeExtents, threads, everySteps, withSteps));
    rates.withFullCheck.push(withCheck.rate);
    rates.without.push(without.rate);
    stallMs.withFullCheck.push(withCheck.longestStallMs);
    stallMs.without.push(without.longestStallMs);
    // The runner time the round with the check took beyond the same steps at the rate without.
    lostMs.push(1000 * (withCheck.stepsRun / withCheck.rate - withCheck.stepsRun / without.rate));
    log(
      `round ${round + 1}/${p.liveRounds}: ${withCheck.stepsRun} steps, ${withCheck.rate.toFixed(2)} steps/s with a full check, ${without.rate.toFixed(2)} without`,
    );
  }
  const steps = batchSteps + 1;
  const parts = await fullCheckMs(p.largeExtents, steps, threads);
  return {
    extents: p.largeExtents,
    everyMs: DEFAULT_FULL_CHECK_EVERY_MS,
    steps,
    ...parts,
    accountedCostPct: (100 * (parts.oracleMs + parts.jsMs)) / DEFAULT_FULL_CHECK_EVERY_MS,
    stepsPerSecond: { without: median(rates.without), withFullCheck: median(rates.withFullCheck) },
    longestEventLoopStallMs: { without: median(stallMs.without), withFullCheck: median(stallMs.withFullCheck) },
    measuredCostPct: rounded(lostMs.map((ms) => (100 * ms) / DEFAULT_FULL_CHECK_EVERY_MS)),
  };
}

export async function benchWatchdog(options: BenchRunOptions): Promise<WatchdogBenchReport> {
  const p = plan(options.quick);
  const log = options.onProgress;
  const threads = os.availableParallelism();
  log(`FP restore: ${p.fpRounds} interleaved rounds at ${p.largeExtents.join('x')} and ${p.smallExtents.join('x')}`);
  const fpRestore = [
    await measureFpRestore(p.largeExtents, p.fpLargeSteps, p.fpRounds, threads),
    await measureFpRestore(p.smallExtents, p.fpSmallSteps, p.fpRounds, threads),
  ];
  log(`live throughput: ${p.liveRounds} rounds of ${p.liveSteps} steps per mode at ${p.largeExtents.join('x')}`);
  const differential = await measureDifferential(p, threads, log);
  log(`full check: ${p.liveRounds} rounds of ${p.liveSteps} steps with and without one at ${p.largeExtents.join('x')}`);
  const fullCheck = await measureFullCheck(p, threads, differential.liveBatchSteps, log);
  const cpus = os.cpus();
  return {
    benchmark: 'watchdog',
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version },
    kernel: KERNEL,
    threads,
    fpRestore,
    differential,
    fullCheck,
  };
}

export function formatWatchdogReport(report: WatchdogBenchReport): string {
  const pct = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}%`;
  const lines = [`watchdog bench (${report.kernel}, ${report.threads} threads)`, '', 'FP environment restore after every kernel call:'];
  for (const figure of report.fpRestore) {
    lines.push(
      `  ${figure.extents.join('x').padEnd(10)} ${(figure.nsPerStepWith / 1e3).toFixed(2)} us/step with, ${(figure.nsPerStepWithout / 1e3).toFixed(2)} without: ` +
        `${pct(figure.medianPct)} (rounds ${figure.roundPct.map(pct).join(' ')})`,
    );
  }
  const d = report.differential;
  lines.push(
    '',
    `differential watchdog at ${d.extents.join('x')} f64, every ${d.everySteps} steps, live batches of ${d.liveBatchSteps} steps, ` +
      `${d.probedCells} of ${d.probeCells} cells checked over ${d.probeSteps} steps:`,
    `  steps/s: none ${d.stepsPerSecond.none.toFixed(2)}, energy ${d.stepsPerSecond.energy.toFixed(2)}, energy+differential ${d.stepsPerSecond.energyAndDifferential.toFixed(2)}`,
    `  differential cost ${pct(d.differentialCostPct.medianPct)} of live throughput (rounds ${d.differentialCostPct.roundPct.map(pct).join(' ')})`,
    `  whole watchdog    ${pct(d.watchdogCostPct.medianPct)} (rounds ${d.watchdogCostPct.roundPct.map(pct).join(' ')})`,
    `  one probe's check ${d.checkMsPerProbe.toFixed(2)} ms on the JS thread: ${d.accountedCostPct.toFixed(3)}% of the time between checks`,
  );
  const f = report.fullCheck;
  lines.push(
    '',
    `full check of the whole lattice at ${f.extents.join('x')} f64, every ${f.everyMs / 1000} s, over ${f.steps} steps:`,
    `  oracle ${f.oracleMs.toFixed(0)} ms off the JS thread, ${f.jsMs.toFixed(1)} ms on it (${f.indexListJsMs.toFixed(1)} ms with an index list): ` +
      `${f.accountedCostPct.toFixed(2)}% of the cadence`,
    `  steps/s: without ${f.stepsPerSecond.without.toFixed(2)}, with one ${f.stepsPerSecond.withFullCheck.toFixed(2)}; ` +
      `runner time lost per check over the cadence ${pct(f.measuredCostPct.medianPct)} (rounds ${f.measuredCostPct.roundPct.map(pct).join(' ')})`,
    `  longest event-loop stall: without ${f.longestEventLoopStallMs.without.toFixed(0)} ms, with one ${f.longestEventLoopStallMs.withFullCheck.toFixed(0)} ms`,
  );
  return lines.join('\n');
}
