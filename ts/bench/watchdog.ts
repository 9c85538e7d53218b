/**
 * `ouroboros bench watchdog`: what the live checks of issue 14 cost, each
 * measured against its absence in the same run, in interleaved rounds (the
 * order alternates) so that a neighbour's burst on this shared machine falls
 * on both sides:
 *
 * - fpRestore: runner steps with and without the FP environment restore
 *   after every kernel call (`setFpRestore`), at 4096^2 f64 and at a small
 *   lattice where a step is short enough for the per-call cost to show;
 * - checkAnatomy: where one check's time goes at 4096^2 f64 (the runner's
 *   copy of both levels, the JS thread's copy, the oracle's energy and the
 *   differential probe), each timed on a run with a snapshot every K steps;
 * - engineWatchdog: live throughput (from the runner's step trace) at
 *   4096^2 f64 with no watchdog, with the engine's (`watchdogOptions` of the
 *   default configuration: energy, differential, full check, checks held to
 *   maxCostShare of the run, cone probes between snapshots), the same
 *   without cone probes, and the same checked every K steps, in
 *   interleaved rounds long enough for a few checks at the engine's cadence,
 *   each measured after its first two checks (which a long run has once);
 *   with what each check and each cone probe cost as the watchdog measured
 *   it, the wall time between consecutive differential verdicts with and
 *   without cone probes, and the runner's own time in watchdog work (its
 *   copies and gathers, by its monotonic clock) over its run time: a share
 *   the machine's noise does not move, where the throughput rounds do by
 *   more than the 2% they would have to resolve;
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
import type { CoreLattice, CoreWatchdogCounters } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { defaultConfig } from '../engine/config.js';
import { watchdogOptions } from '../engine/main-lattice.js';
import { cellCount, randomState } from '../lattice/initial-conditions.js';
import { compareProbe, drawProbeCells } from '../lattice/differential-check.js';
import { Watchdog, resolveCadence, resolveDifferential, DEFAULT_PROBE_CELLS, DEFAULT_PROBE_CONE_VALUES, type WatchdogOptions } from '../lattice/watchdog.js';
import { seededRandom } from '../util/random.js';
import { DT, KERNEL, type RoundedFigure, rounded } from './watchdog-common.js';
import { type FullCheckFigures, measureFullCheck } from './watchdog-full-check.js';
import { type ConeProbeFigures, type ConeRound, boundaryGaps, coneFigureLines, coneProbeFigures, keptCells, previousConeRate } from './watchdog-cones.js';
import type { BenchRunOptions } from './suites.js';
import { median } from '../util/median.js';

/** The results this bench writes (the CLI's bench/results/<suite>.json), read for the rate they report before being replaced. */
const PREVIOUS_RESULTS = 'bench/results/watchdog.json';

interface WatchdogPlan {
  largeExtents: number[];
  smallExtents: number[];
  fpRounds: number;
  fpLargeSteps: number;
  fpSmallSteps: number;
  liveRounds: number;
  liveSteps: number;
  /** Rounds of the engine's watchdog against none, and their steps (long enough for a few checks at its cadence). */
  engineRounds: number;
  engineSteps: number;
}

/**
 * The rounds of a run: `quick` checks the harness at 256^2; `lattice` (the
 * CLI's --lattice) replaces the large lattice, and with --quick makes a
 * short run there (rounds of 400 steps), for figures at the live size in
 * minutes rather than the full run's hour.
 */
function plan(quick: boolean, lattice?: number[]): WatchdogPlan {
  const base = basePlan(quick);
  if (lattice === undefined) return base;
  return { ...base, largeExtents: lattice, engineSteps: quick ? 400 : base.engineSteps };
}

function basePlan(quick: boolean): WatchdogPlan {
  return quick
    ? {
        largeExtents: [256, 256],
        smallExtents: [16, 16],
        fpRounds: 3,
        fpLargeSteps: 20,
        fpSmallSteps: 2000,
        liveRounds: 2,
        liveSteps: 120,
        engineRounds: 2,
        engineSteps: 2000,
      }
    : {
        largeExtents: [4096, 4096],
        smallExtents: [16, 16],
        fpRounds: 31,
        fpLargeSteps: 6,
        fpSmallSteps: 50_000,
        liveRounds: 10,
        liveSteps: 150,
        engineRounds: 6,
        engineSteps: 1200,
      };
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
  /** Where one check's time goes at the large lattice, each part timed alone on a run with a snapshot every K steps. */
  checkAnatomy: CheckAnatomy;
  /** The watchdog as the engine runs it (`watchdogOptions(defaultConfig)`) against none and against a check every K steps. */
  engineWatchdog: EngineWatchdogFigures;
  fullCheck: FullCheckFigures;
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

export interface CheckAnatomy {
  extents: number[];
  everySteps: number;
  /** Medians over the run's checks, in ms. */
  runnerCaptureMs: number;
  copySnapshotMs: number;
  energyMs: number;
  differentialMs: number;
  /** Runner time per step meanwhile (the batches between checks), in ms. */
  msPerStep: number;
  /** (capture + copy + energy + differential) over the time of everySteps steps: a check every K steps, counted as lost outright. */
  accountedPctAtEveryK: number;
}

export interface EngineWatchdogFigures {
  extents: number[];
  precision: 'f64';
  everySteps: number;
  maxCostShare: number;
  probeCells: number;
  fullCheckEveryMs: number;
  /** The live batch size the runner reached. */
  liveBatchSteps: number;
  stepsPerRound: number;
  /** Each run's throughput is taken from this step on (after its first two checks, which set the cadence's rate), from the step trace. */
  measuredFromStep: number;
  /** Steps over time of all rounds of a mode together. */
  stepsPerSecond: { none: number; everyK: number; engine: number };
  /** Per round, the engine's watchdog against none, in the same round. */
  engineCostPct: RoundedFigure;
  /** Per round, a check every K steps (the default before maxCostShare) against none. */
  everyKCostPct: RoundedFigure;
  /** 100 * (1 - engine / none) of the pooled rates. */
  pooledEngineCostPct: number;
  /** Checks in the measured part of a round (median over rounds) and what they cost, as the watchdog measured it (runner copy + JS thread). */
  checksPerRound: { everyK: number; engine: number };
  checkCostMs: { everyK: number; engine: number };
  /** The measured checks' cost over the measured time, median over rounds: the share the cadence aims at. */
  accountedCostPct: { everyK: number; engine: number };
  /** The JS thread's part of one differential check (oracle at the probed cells and comparison), timed alone. */
  differentialMsPerProbe: number;
  /** The engine's cone probes (medians over its rounds of each round's mean per probe). */
  coneProbe: ConeProbeFigures;
  /**
   * Wall time between consecutive differential verdicts in a round, the
   * round's start and end counting as verdicts (the longest a batch could
   * wait unchecked), medians over rounds of its median and longest gap.
   */
  differentialGapMs: { withCones: GapFigures; withoutCones: GapFigures };
  /**
   * The runner's own time in watchdog work (copying levels at snapshots,
   * gathering probes' cells and cone probes' cones) over its run time,
   * both by its monotonic clock, median over rounds, in percent.
   */
  runnerWatchdogPct: { everyK: number; engine: number; engineWithoutCones: number };
}

export interface GapFigures {
  medianMs: number;
  maxMs: number;
}

/** Times each part of a check on a run with a snapshot every K steps, doing what the watchdog does with each. */
async function measureCheckAnatomy(extents: number[], threads: number, everySteps: number, checks: number): Promise<CheckAnatomy> {
  const core = new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath: kernelModulePath(KERNEL), threads });
  try {
    const cells = cellCount(extents);
    const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 13);
    core.setState(initial.previous, initial.current);
    const levels = { previous: new Float64Array(cells), current: new Float64Array(cells) };
    const random = seededRandom(2);
    const oracle = oracleAddon();
    const parts = { capture: [] as number[], copy: [] as number[], energy: [] as number[], differential: [] as number[] };
    const since = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;
    core.setProbe(drawProbeCells(cells, DEFAULT_PROBE_CELLS, random), false, DEFAULT_PROBE_CONE_VALUES, false);
    core.traceSteps(1 << 20);
    const summary = await core.run(checks * everySteps, everySteps, (step) => {
      let started = process.hrtime.bigint();
      const snapshot = core.copySnapshot(levels.previous, levels.current);
      parts.copy.push(since(started));
      if (snapshot === null) return;
      parts.capture.push(snapshot.captureNs / 1e6);
      started = process.hrtime.bigint();
      oracle.checkInvariants({
        extents,
        c: 1,
        h: 1,
        dt: DT,
        ...levels,
        initialEnergy: 1,
        driftTolerance: 1,
        readout: null,
        stepped: null,
        shiftedStepped: null,
      });
      parts.energy.push(since(started));
      started = process.hrtime.bigint();
      const { probeCells, probeSteps } = snapshot;
      oracle.stepAtCellsF64(levels.previous, levels.current, extents, DT * DT, probeSteps, probeCells);
      oracle.cellsConeScalesF64(levels.previous, levels.current, extents, DT * DT, probeSteps, probeCells);
      parts.differential.push(since(started));
      core.setProbe(drawProbeCells(cells, DEFAULT_PROBE_CELLS, random), false, DEFAULT_PROBE_CONE_VALUES, false);
      core.settleSnapshot(step, true);
    });
    if (summary.error) throw new Error(`the run failed: ${summary.error}`);
    const trace = core.takeTrace();
    const batchMs = Array.from(trace.steps, (steps, i) => (trace.endNs[i]! - trace.startNs[i]!) / 1e6 / steps);
    const msPerStep = median(batchMs);
    const checkMs = median(parts.capture) + median(parts.copy) + median(parts.energy) + median(parts.differential);
    return {
      extents,
      everySteps,
      runnerCaptureMs: median(parts.capture),
      copySnapshotMs: median(parts.copy),
      energyMs: median(parts.energy),
      differentialMs: median(parts.differential),
      msPerStep,
      accountedPctAtEveryK: (100 * checkMs) / (everySteps * msPerStep),
    };
  } finally {
    core.close();
  }
}

type LiveMode = 'none' | 'everyK' | 'engine' | 'engineWithoutCones';

interface LiveRound extends ConeRound {
  /** Steps per second over the measured part. */
  rate: number;
  /** Checks that began in the measured part, and their cost as the watchdog measured it. */
  checks: number;
  checkCostMs: number[];
  measuredMs: number;
  /** The runner's watchdog work, by its own clock, in ns. */
  runnerWatchdogNs: number;
  /** Wall time between consecutive differential verdicts, and from the round's start to the first and from the last to its end. */
  gapsMs: number[];
}

function runnerWatchdogNs(counters: CoreWatchdogCounters): number {
  return counters.captureNs + counters.snapshotProbeNs + counters.coneGatherNs;
}

/** A watchdog of this module's own for `mode`, built as Lattice.run builds one, so that the bench can read what each check cost. */
function liveWatchdog(
  core: CoreLattice,
  mode: LiveMode,
  energy: number,
  extents: number[],
): { watchdog: Watchdog; options: WatchdogOptions; rollbacks: string[] } {
  const engine = watchdogOptions(defaultConfig);
  const withoutCones = { ...engine, differential: { ...(engine.differential || {}), coneEverySteps: 0 } };
  const options: WatchdogOptions = mode === 'engine' ? engine : mode === 'engineWithoutCones' ? withoutCones : { ...withoutCones, maxCostShare: undefined };
  const physics = { extents, c: 1, h: 1, dt: DT, courant2: DT * DT, precision: 'f64' as const };
  const differential = resolveDifferential(options.differential, cellCount(extents), options.everySteps);
  const rollbacks: string[] = [];
  const onRollback = (event: { detail: string }) => rollbacks.push(event.detail);
  const cadence = resolveCadence(options, options.everySteps, differential?.seed);
  return { watchdog: new Watchdog(core, physics, energy, options.driftTolerance!, differential, onRollback, cadence), options, rollbacks };
}

/**
 * One run of `steps` steps on `core` with the engine's watchdog, the same
 * every K steps, or none; throughput from the step trace from `fromStep` on.
 */
async function liveRound(core: CoreLattice, mode: LiveMode, steps: number, fromStep: number, energy: number, extents: number[]): Promise<LiveRound> {
  const { watchdog, options, rollbacks } = liveWatchdog(core, mode, energy, extents);
  const start = core.stepCount;
  const costs: { step: number; ms: number }[] = [];
  const countersBefore = core.watchdogCounters();
  core.traceSteps(1 << 20);
  if (mode !== 'none') watchdog.prime();
  // The watchdog's clock (performance.now, as no `now` is injected), for the gaps before the first verdict and after the last.
  const startedMs = performance.now();
  const onSnapshot = (step: number) => {
    watchdog.check(step);
    costs.push({ step, ms: watchdog.lastCheckCostMs });
  };
  const onCone = watchdog.takesConeProbes && mode !== 'none' ? () => watchdog.checkCone() : null;
  const summary = await core.run(steps, mode === 'none' ? 0 : options.everySteps, mode === 'none' ? null : onSnapshot, null, onCone);
  await watchdog.fullCheckSettled();
  await watchdog.coneSettled();
  const endedMs = performance.now();
  const countersAfter = core.watchdogCounters();
  if (summary.error) throw new Error(`the run failed: ${summary.error}`);
  if (rollbacks.length > 0) throw new Error(`the watchdog rolled back a correct kernel (${mode}): ${rollbacks[0]}`);
  const trace = core.takeTrace();
  const first = trace.step.findIndex((step) => step >= start + fromStep);
  if (first < 0) throw new Error(`the run ended before step ${fromStep}`);
  const last = trace.step.length - 1;
  let measuredSteps = 0;
  for (let i = first; i <= last; i++) measuredSteps += trace.steps[i]!;
  const measuredMs = (trace.endNs[last]! - trace.startNs[first]!) / 1e6;
  const measured = costs.filter((cost) => cost.step >= start + fromStep);
  const { boundaryGapsNs, batchNs } = boundaryGaps(trace, first, last);
  const times = [startedMs, ...watchdog.differentialCheckTimesMs, endedMs];
  return {
    rate: (1000 * measuredSteps) / measuredMs,
    checks: measured.length,
    checkCostMs: measured.map((cost) => cost.ms),
    measuredMs,
    runnerWatchdogNs: runnerWatchdogNs(countersAfter) - runnerWatchdogNs(countersBefore),
    runNs: summary.runNs,
    cones: {
      ...watchdog.coneStats,
      skips: countersAfter.coneSkips - countersBefore.coneSkips,
      drops: countersAfter.coneExtraDrops - countersBefore.coneExtraDrops,
      steps: core.stepCount - start,
    },
    gapsMs: times.slice(1).map((atMs, i) => atMs - times[i]!),
    boundaryGapsNs,
    batchMedianNs: median(batchNs),
    coneBoundaries: countersAfter.coneBoundaries - countersBefore.coneBoundaries,
    coneBoundaryNs: countersAfter.coneGatherNs - countersBefore.coneGatherNs,
    batchCap: countersAfter.coneBatchCap,
  };
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
    const scales = oracle.cellsConeScalesF64(previous, current, extents, DT * DT, steps, probe);
    compareProbe(probe, expected, expected, scales, 'f64', steps);
    totalNs += process.hrtime.bigint() - start;
  }
  return Number(totalNs) / 1e6 / repetitions;
}

async function measureEngineWatchdog(p: WatchdogPlan, threads: number, log: (message: string) => void): Promise<EngineWatchdogFigures> {
  const engine = watchdogOptions(defaultConfig);
  const extents = p.largeExtents;
  const core = new (coreAddon().LatticeCore)({ extents, courant2: DT * DT, precision: 'f64', kernelPath: kernelModulePath(KERNEL), threads });
  try {
    const initial = randomState({ extents, precision: 'f64', courantNumber: DT }, 9);
    core.setState(initial.previous, initial.current);
    const energy = oracleAddon().energy(initial.previous as Float64Array, initial.current as Float64Array, extents, 1, 1, DT);
    // The first two checks (at the start and K steps on) give the cadence its rate; a long run has them once.
    const fromStep = 2 * engine.everySteps + 10;
    const modes: LiveMode[] = ['none', 'everyK', 'engine', 'engineWithoutCones'];
    const rounds: Record<LiveMode, LiveRound[]> = { none: [], everyK: [], engine: [], engineWithoutCones: [] };
    for (let round = 0; round < p.engineRounds; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const result = await liveRound(core, mode, p.engineSteps, fromStep, energy, extents);
        rounds[mode].push(result);
        log(`round ${round + 1}/${p.engineRounds} ${mode}: ${result.rate.toFixed(2)} steps/s, ${result.checks} checks measured`);
      }
    }
    const pooled = (mode: LiveMode) => {
      const ms = rounds[mode].reduce((sum, r) => sum + r.measuredMs, 0);
      return rounds[mode].reduce((sum, r) => sum + (r.rate * r.measuredMs) / 1000, 0) / (ms / 1000);
    };
    const lossPct = (mode: LiveMode) => rounds[mode].map((r, i) => (100 * (rounds.none[i]!.rate - r.rate)) / rounds.none[i]!.rate);
    const accounted = (mode: LiveMode) => median(rounds[mode].map((r) => (100 * r.checkCostMs.reduce((a, b) => a + b, 0)) / r.measuredMs));
    const costs = (mode: LiveMode) => rounds[mode].flatMap((r) => r.checkCostMs);
    const stepsPerSecond = { none: pooled('none'), everyK: pooled('everyK'), engine: pooled('engine') };
    const liveBatchSteps = core.batchSteps;
    const gaps = (mode: LiveMode): GapFigures => ({
      medianMs: median(rounds[mode].map((r) => (r.gapsMs.length > 0 ? median(r.gapsMs) : Number.NaN))),
      maxMs: median(rounds[mode].map((r) => (r.gapsMs.length > 0 ? Math.max(...r.gapsMs) : Number.NaN))),
    });
    const runnerPct = (mode: LiveMode) => median(rounds[mode].map((r) => (100 * r.runnerWatchdogNs) / r.runNs));
    return {
      extents,
      precision: 'f64',
      everySteps: engine.everySteps,
      maxCostShare: engine.maxCostShare!,
      probeCells: DEFAULT_PROBE_CELLS,
      fullCheckEveryMs: defaultConfig.watchdog.fullCheckEveryMs,
      liveBatchSteps,
      stepsPerRound: p.engineSteps,
      measuredFromStep: fromStep,
      stepsPerSecond,
      engineCostPct: rounded(lossPct('engine')),
      everyKCostPct: rounded(lossPct('everyK')),
      pooledEngineCostPct: 100 * (1 - stepsPerSecond.engine / stepsPerSecond.none),
      checksPerRound: { everyK: median(rounds.everyK.map((r) => r.checks)), engine: median(rounds.engine.map((r) => r.checks)) },
      checkCostMs: { everyK: median(costs('everyK')), engine: median(costs('engine')) },
      accountedCostPct: { everyK: accounted('everyK'), engine: accounted('engine') },
      differentialMsPerProbe: checkMsPerProbe(extents, liveBatchSteps + 1),
      coneProbe: coneProbeFigures(rounds.engine, engine.everySteps, previousConeRate(PREVIOUS_RESULTS)),
      differentialGapMs: { withCones: gaps('engine'), withoutCones: gaps('engineWithoutCones') },
      runnerWatchdogPct: { everyK: runnerPct('everyK'), engine: runnerPct('engine'), engineWithoutCones: runnerPct('engineWithoutCones') },
    };
  } finally {
    core.close();
  }
}

export async function benchWatchdog(options: BenchRunOptions): Promise<WatchdogBenchReport> {
  const p = plan(options.quick, options.lattice);
  const log = options.onProgress;
  const threads = os.availableParallelism();
  log(`FP restore: ${p.fpRounds} interleaved rounds at ${p.largeExtents.join('x')} and ${p.smallExtents.join('x')}`);
  const fpRestore = [
    await measureFpRestore(p.largeExtents, p.fpLargeSteps, p.fpRounds, threads),
    await measureFpRestore(p.smallExtents, p.fpSmallSteps, p.fpRounds, threads),
  ];
  const everySteps = defaultConfig.watchdog.everySteps;
  log(`one check's parts: a run with a snapshot every ${everySteps} steps at ${p.largeExtents.join('x')}`);
  const checkAnatomy = await measureCheckAnatomy(p.largeExtents, threads, everySteps, options.quick ? 4 : 9);
  log(`live throughput: ${p.engineRounds} rounds of ${p.engineSteps} steps per mode (none, every K, the engine's) at ${p.largeExtents.join('x')}`);
  const engineWatchdog = await measureEngineWatchdog(p, threads, log);
  log(`full check: ${p.liveRounds} rounds with and without one at ${p.largeExtents.join('x')}`);
  const fullCheck = await measureFullCheck(p.largeExtents, p.liveRounds, threads, engineWatchdog.liveBatchSteps, log);
  const cpus = os.cpus();
  return {
    benchmark: 'watchdog',
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version },
    kernel: KERNEL,
    threads,
    fpRestore,
    checkAnatomy,
    engineWatchdog,
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
  const a = report.checkAnatomy;
  lines.push(
    '',
    `one check at ${a.extents.join('x')} f64 (medians, ${a.msPerStep.toFixed(1)} ms a step): runner copy ${a.runnerCaptureMs.toFixed(1)} ms, ` +
      `JS copy ${a.copySnapshotMs.toFixed(1)} ms, energy ${a.energyMs.toFixed(1)} ms, differential ${a.differentialMs.toFixed(1)} ms: ` +
      `${a.accountedPctAtEveryK.toFixed(1)}% of ${a.everySteps} steps`,
  );
  const e = report.engineWatchdog;
  lines.push(
    '',
    `the engine's watchdog at ${e.extents.join('x')} f64 (every ${e.everySteps} steps at most, checks held to ${100 * e.maxCostShare}% of the run), ` +
      `live batches of ${e.liveBatchSteps}, rounds of ${e.stepsPerRound} steps measured from step ${e.measuredFromStep}:`,
    `  steps/s (pooled): none ${e.stepsPerSecond.none.toFixed(2)}, every K ${e.stepsPerSecond.everyK.toFixed(2)}, engine ${e.stepsPerSecond.engine.toFixed(2)}: ` +
      `engine ${pct(e.pooledEngineCostPct)} pooled`,
    `  engine  ${pct(e.engineCostPct.medianPct)} median (rounds ${e.engineCostPct.roundPct.map(pct).join(' ')})`,
    `  every K ${pct(e.everyKCostPct.medianPct)} median (rounds ${e.everyKCostPct.roundPct.map(pct).join(' ')})`,
    `  checks a round: every K ${e.checksPerRound.everyK}, engine ${e.checksPerRound.engine}; ${e.checkCostMs.everyK.toFixed(0)} and ` +
      `${e.checkCostMs.engine.toFixed(0)} ms each; accounted ${e.accountedCostPct.everyK.toFixed(2)}% and ${e.accountedCostPct.engine.toFixed(2)}% of the run`,
    `  one differential probe ${e.differentialMsPerProbe.toFixed(2)} ms on the JS thread`,
    ...coneFigureLines(e.coneProbe),
    `  between differential verdicts: ${e.differentialGapMs.withCones.medianMs.toFixed(0)} ms median, ${e.differentialGapMs.withCones.maxMs.toFixed(0)} ms longest ` +
      `with cone probes; ${e.differentialGapMs.withoutCones.medianMs.toFixed(0)} and ${e.differentialGapMs.withoutCones.maxMs.toFixed(0)} ms without`,
    `  the runner's own watchdog work over its run time (its clock): every K ${e.runnerWatchdogPct.everyK.toFixed(3)}%, ` +
      `engine ${e.runnerWatchdogPct.engine.toFixed(3)}%, engine without cone probes ${e.runnerWatchdogPct.engineWithoutCones.toFixed(3)}%`,
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
