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
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CoreLattice, CoreWatchdogCounters } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { defaultConfig } from '../engine/config.js';
import { watchdogOptions } from '../engine/main-lattice.js';
import { cellCount, randomState } from '../lattice/initial-conditions.js';
import { ULPS_PER_STEP, compareProbe, drawProbeCells } from '../lattice/differential-check.js';
import {
  Watchdog,
  resolveCadence,
  resolveDifferential,
  DEFAULT_FULL_CHECK_EVERY_MS,
  DEFAULT_PROBE_CELLS,
  DEFAULT_PROBE_CONE_VALUES,
  type WatchdogOptions,
} from '../lattice/watchdog.js';
import { seededRandom } from '../util/random.js';
import type { BenchRunOptions } from './suites.js';
import { median } from '../util/median.js';

const DT = 0.6;
const KERNEL = 'rows';
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

function plan(quick: boolean): WatchdogPlan {
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
  /** Where one check's time goes at the large lattice, each part timed alone on a run with a snapshot every K steps. */
  checkAnatomy: CheckAnatomy;
  /** The watchdog as the engine runs it (`watchdogOptions(defaultConfig.watchdog)`) against none and against a check every K steps. */
  engineWatchdog: EngineWatchdogFigures;
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

export interface ConeProbeFigures {
  everySteps: number;
  probesPerRound: number;
  /** Due while the last was still being checked, skipped by the runner. */
  skipsPerRound: number;
  /** Of the probes, boundaries' gathers handed over beyond the plans at the take rate the cost share affords; and those chosen but dropped, every extra slot out. */
  extrasPerRound: number;
  extraDropsPerRound: number;
  /** Cells the cone probes compared per step run (median over rounds): the rate a kernel wrong at a few cells is found at. */
  cellsCheckedPerStep: number;
  /**
   * The same rate in the results this run replaces (bench/results/watchdog.json, with their extents): theirs, or,
   * in results from before extra probes, their probes per round x cells per probe (all probeCells within the
   * cone budget at the live batch) / steps per round; null when there are none.
   */
  previousCellsCheckedPerStep: { date: string; extents: number[]; value: number } | null;
  /** The runner's gathers of both levels' cones and the cells' newest values, per probe. */
  runnerGatherMs: number;
  /** The JS thread's part per probe: taking the cones, arming the next, comparing. */
  jsMs: number;
  /** The oracle's steps of the cones on a libuv thread, per probe (wall time from sending to the answer). */
  oracleMs: number;
  /** (gathers + JS + oracle) of all probes over the round's run time, median over rounds: the oracle's thread counted as lost outright. */
  accountedCostPct: number;
  /** Most steps in one batch while cone probes are on (one cone of that radius fits the budget); null: no cap. */
  batchCapSteps: number | null;
  /** The runner's cone gather at each boundary, probed or not (both levels' cones and the newest values), and its share of a median batch. */
  boundaryGatherUs: number;
  boundaryGatherPctOfBatch: number;
  /** What a kernel sees: end of one call to the start of the next, by the runner's clock, before probed and unprobed batches (pooled over rounds). */
  boundaryGapUs: { probed: GapQuantiles; unprobed: GapQuantiles };
}

export interface GapQuantiles {
  count: number;
  medianUs: number;
  p95Us: number;
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

interface LiveRound {
  /** Steps per second over the measured part. */
  rate: number;
  /** Checks that began in the measured part, and their cost as the watchdog measured it. */
  checks: number;
  checkCostMs: number[];
  measuredMs: number;
  /** The runner's watchdog work and whole run, by its own clock, in ns. */
  runnerWatchdogNs: number;
  runNs: number;
  cones: {
    probes: number;
    skips: number;
    extras: number;
    drops: number;
    cellsChecked: number;
    steps: number;
    gatherNs: number;
    jsMs: number;
    oracleMs: number;
  };
  /** Wall time between consecutive differential verdicts, and from the round's start to the first and from the last to its end. */
  gapsMs: number[];
  /** Measured batches: end of the call before to the start of each (ns), split by whether the batch was probed; their median length. */
  boundaryGapsNs: { probed: number[]; unprobed: number[] };
  batchMedianNs: number;
  /** Boundaries where the runner gathered cones, and the ns it spent. */
  coneBoundaries: number;
  coneBoundaryNs: number;
  batchCap: number | null;
}

function runnerWatchdogNs(counters: CoreWatchdogCounters): number {
  return counters.captureNs + counters.snapshotProbeNs + counters.coneGatherNs;
}

/**
 * One run of `steps` steps on `core` with the engine's watchdog, the same
 * every K steps, or none; throughput from the step trace from `fromStep` on.
 * A watchdog of this module's own, built as Lattice.run builds it, so that
 * the bench can read what each check cost.
 */
async function liveRound(core: CoreLattice, mode: LiveMode, steps: number, fromStep: number, energy: number, extents: number[]): Promise<LiveRound> {
  const engine = watchdogOptions(defaultConfig.watchdog);
  const withoutCones = { ...engine, differential: { ...(engine.differential || {}), coneEverySteps: 0 } };
  const options: WatchdogOptions = mode === 'engine' ? engine : mode === 'engineWithoutCones' ? withoutCones : { ...withoutCones, maxCostShare: undefined };
  const physics = { extents, c: 1, h: 1, dt: DT, courant2: DT * DT, precision: 'f64' as const };
  const differential = resolveDifferential(options.differential, cellCount(extents), options.everySteps);
  const rollbacks: string[] = [];
  const watchdog = new Watchdog(
    core,
    physics,
    energy,
    options.driftTolerance!,
    differential,
    (event) => rollbacks.push(event.detail),
    resolveCadence(options, options.everySteps, differential?.seed),
  );
  const start = core.stepCount;
  const costs: { step: number; ms: number }[] = [];
  const countersBefore = core.watchdogCounters();
  core.traceSteps(1 << 20);
  if (mode !== 'none') watchdog.prime();
  // The watchdog's clock (performance.now, as no `now` is injected), for the gaps before the first verdict and after the last.
  const startedMs = performance.now();
  const summary = await core.run(
    steps,
    mode === 'none' ? 0 : options.everySteps,
    mode === 'none'
      ? null
      : (step) => {
          watchdog.check(step);
          costs.push({ step, ms: watchdog.lastCheckCostMs });
        },
    null,
    watchdog.takesConeProbes && mode !== 'none' ? () => watchdog.checkCone() : null,
  );
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
  const boundaryGapsNs = { probed: [] as number[], unprobed: [] as number[] };
  const batchNs: number[] = [];
  for (let i = Math.max(first, 1); i <= last; i++) {
    batchNs.push(trace.endNs[i]! - trace.startNs[i]!);
    // Only batches a gather preceded are compared (every one while cone probes are on; none before the first plan).
    if (trace.coneValues[i] === 0) continue;
    (trace.coneProbed[i] === 1 ? boundaryGapsNs.probed : boundaryGapsNs.unprobed).push(trace.startNs[i]! - trace.endNs[i - 1]!);
  }
  const times = [startedMs, ...watchdog.differentialCheckTimesMs, endedMs];
  return {
    rate: (1000 * measuredSteps) / measuredMs,
    checks: measured.length,
    checkCostMs: measured.map((cost) => cost.ms),
    measuredMs,
    runnerWatchdogNs: runnerWatchdogNs(countersAfter) - runnerWatchdogNs(countersBefore),
    runNs: summary.runNs,
    cones: {
      probes: watchdog.coneStats.checked,
      skips: countersAfter.coneSkips - countersBefore.coneSkips,
      extras: watchdog.coneStats.extras,
      drops: countersAfter.coneExtraDrops - countersBefore.coneExtraDrops,
      cellsChecked: watchdog.coneStats.cellsChecked,
      steps: core.stepCount - start,
      gatherNs: watchdog.coneStats.gatherNs,
      jsMs: watchdog.coneStats.jsMs,
      oracleMs: watchdog.coneStats.oracleMs,
    },
    gapsMs: times.slice(1).map((atMs, i) => atMs - times[i]!),
    boundaryGapsNs,
    batchMedianNs: median(batchNs),
    coneBoundaries: countersAfter.coneBoundaries - countersBefore.coneBoundaries,
    coneBoundaryNs: countersAfter.coneGatherNs - countersBefore.coneGatherNs,
    batchCap: countersAfter.coneBatchCap,
  };
}

function gapText(gap: GapQuantiles): string {
  return `${gap.medianUs.toFixed(1)} us median, ${gap.p95Us.toFixed(1)} us p95 (${gap.count})`;
}

function quantiles(values: number[], scale: number): GapQuantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]! / scale);
  return { count: sorted.length, medianUs: at(0.5), p95Us: at(0.95) };
}

/** What the engine's cone probes cost, per probe and as a share of each round's run. */
function coneProbeFigures(
  rounds: LiveRound[],
  everySteps: number,
  previousCellsCheckedPerStep: ConeProbeFigures['previousCellsCheckedPerStep'],
): ConeProbeFigures {
  const perProbe = (value: (r: LiveRound) => number) => median(rounds.map((r) => (r.cones.probes > 0 ? value(r) / r.cones.probes : Number.NaN)));
  return {
    everySteps,
    probesPerRound: median(rounds.map((r) => r.cones.probes)),
    skipsPerRound: median(rounds.map((r) => r.cones.skips)),
    extrasPerRound: median(rounds.map((r) => r.cones.extras)),
    extraDropsPerRound: median(rounds.map((r) => r.cones.drops)),
    cellsCheckedPerStep: median(rounds.map((r) => r.cones.cellsChecked / r.cones.steps)),
    previousCellsCheckedPerStep,
    runnerGatherMs: perProbe((r) => r.cones.gatherNs / 1e6),
    jsMs: perProbe((r) => r.cones.jsMs),
    oracleMs: perProbe((r) => r.cones.oracleMs),
    accountedCostPct: median(rounds.map((r) => (100 * (r.cones.gatherNs / 1e6 + r.cones.jsMs + r.cones.oracleMs)) / (r.runNs / 1e6))),
    batchCapSteps: rounds.at(-1)?.batchCap ?? null,
    boundaryGatherUs: median(rounds.map((r) => (r.coneBoundaries > 0 ? r.coneBoundaryNs / r.coneBoundaries / 1e3 : Number.NaN))),
    boundaryGatherPctOfBatch: median(rounds.map((r) => (r.coneBoundaries > 0 ? (100 * r.coneBoundaryNs) / r.coneBoundaries / r.batchMedianNs : Number.NaN))),
    boundaryGapUs: {
      probed: quantiles(
        rounds.flatMap((r) => r.boundaryGapsNs.probed),
        1e3,
      ),
      unprobed: quantiles(
        rounds.flatMap((r) => r.boundaryGapsNs.unprobed),
        1e3,
      ),
    },
  };
}

/**
 * The cone probes' cells checked per step in the results this run replaces, where each probe took the plan's
 * cells (all of probeCells that fit the cone budget at the live batch): probes a round x cells / steps a round.
 */
function previousConeRate(path: string): ConeProbeFigures['previousCellsCheckedPerStep'] {
  if (!existsSync(path)) return null;
  const old = JSON.parse(readFileSync(path, 'utf8')) as { date?: string; engineWatchdog?: Partial<EngineWatchdogFigures> };
  const e = old.engineWatchdog;
  const date = old.date ?? 'unknown';
  if (e?.coneProbe === undefined || e.extents === undefined) return null;
  // Results of this kind carry the rate; older ones, whose every probe took the plan's cells, give it by their counts.
  if (e.coneProbe.cellsCheckedPerStep !== undefined) return { date, extents: e.extents, value: e.coneProbe.cellsCheckedPerStep };
  const { probeCells, liveBatchSteps, stepsPerRound, extents } = e;
  if (probeCells === undefined || liveBatchSteps === undefined || stepsPerRound === undefined) return null;
  const cells = keptCells(probeCells, extents.length, liveBatchSteps);
  return { date, extents, value: (e.coneProbe.probesPerRound * cells) / stepsPerRound };
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
    const scales = oracle.cellsConeScalesF64(previous, current, extents, DT * DT, steps, probe);
    compareProbe(probe, expected, expected, scales, 'f64', steps);
    totalNs += process.hrtime.bigint() - start;
  }
  return Number(totalNs) / 1e6 / repetitions;
}

async function measureEngineWatchdog(p: WatchdogPlan, threads: number, log: (message: string) => void): Promise<EngineWatchdogFigures> {
  const engine = watchdogOptions(defaultConfig.watchdog);
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
  const everySteps = defaultConfig.watchdog.everySteps;
  log(`one check's parts: a run with a snapshot every ${everySteps} steps at ${p.largeExtents.join('x')}`);
  const checkAnatomy = await measureCheckAnatomy(p.largeExtents, threads, everySteps, options.quick ? 4 : 9);
  log(`live throughput: ${p.engineRounds} rounds of ${p.engineSteps} steps per mode (none, every K, the engine's) at ${p.largeExtents.join('x')}`);
  const engineWatchdog = await measureEngineWatchdog(p, threads, log);
  log(`full check: ${p.liveRounds} rounds with and without one at ${p.largeExtents.join('x')}`);
  const fullCheck = await measureFullCheck(p, threads, engineWatchdog.liveBatchSteps, log);
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
    `  cone probes: ${e.coneProbe.cellsCheckedPerStep.toPrecision(3)} cells checked a step (${e.coneProbe.extrasPerRound} extra gathers a round, ${e.coneProbe.extraDropsPerRound} dropped)` +
      (e.coneProbe.previousCellsCheckedPerStep === null
        ? ''
        : `, against ${e.coneProbe.previousCellsCheckedPerStep.value.toPrecision(3)} at ${e.coneProbe.previousCellsCheckedPerStep.extents.join('x')} in the results of ${e.coneProbe.previousCellsCheckedPerStep.date}`),
    `  cone plans every ${e.coneProbe.everySteps} steps on average: ${e.coneProbe.probesPerRound} probes a round (${e.coneProbe.skipsPerRound} skipped), each ` +
      `${e.coneProbe.runnerGatherMs.toFixed(2)} ms of runner gathers, ${e.coneProbe.jsMs.toFixed(2)} ms on the JS thread, ${e.coneProbe.oracleMs.toFixed(2)} ms of oracle ` +
      `off it: accounted ${e.coneProbe.accountedCostPct.toFixed(2)}% of the run`,
    `  what a kernel sees: batches capped at ${e.coneProbe.batchCapSteps ?? 'no'} steps; a ${e.coneProbe.boundaryGatherUs.toFixed(1)} us gather at every boundary ` +
      `(${e.coneProbe.boundaryGatherPctOfBatch.toFixed(3)}% of a median batch); the gap between calls before probed batches ` +
      `${gapText(e.coneProbe.boundaryGapUs.probed)}, before unprobed ${gapText(e.coneProbe.boundaryGapUs.unprobed)}`,
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
