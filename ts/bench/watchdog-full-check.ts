/**
 * `ouroboros bench watchdog`'s full check of the whole lattice, due every
 * DEFAULT_FULL_CHECK_EVERY_MS: the oracle's steps of the whole lattice (off
 * the JS thread) and the JS thread's part, timed alone and set against the
 * cadence, and live throughput in rounds that last until a full check
 * forced at their start (the injected clock) has settled, against rounds of
 * as many steps with none.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { defaultConfig } from '../engine/config.js';
import { cellCount, randomState } from '../lattice/initial-conditions.js';
import { ULPS_PER_STEP } from '../lattice/differential-check.js';
import { Watchdog, resolveDifferential, DEFAULT_FULL_CHECK_EVERY_MS } from '../lattice/watchdog.js';
import { median } from '../util/median.js';
import { DT, KERNEL, type RoundedFigure, rounded } from './watchdog-common.js';

export interface FullCheckFigures {
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

/** The full check's figures at `extents`: `rounds` rounds with and without one, and its parts timed alone. */
export async function measureFullCheck(
  extents: number[],
  rounds: number,
  threads: number,
  batchSteps: number,
  log: (message: string) => void,
): Promise<FullCheckFigures> {
  const everySteps = defaultConfig.watchdog.everySteps;
  const rates = { without: [] as number[], withFullCheck: [] as number[] };
  const stallMs = { without: [] as number[], withFullCheck: [] as number[] };
  const lostMs: number[] = [];
  // A round with a full check lasts a little over two snapshot intervals; one without goes first on odd rounds.
  let withSteps = 2 * everySteps + 5;
  for (let round = 0; round < rounds; round++) {
    const first = round % 2 === 0 ? null : await fullCheckRound(extents, threads, everySteps, withSteps);
    const withCheck = await fullCheckRound(extents, threads, everySteps, null);
    withSteps = withCheck.stepsRun;
    const without = first ?? (await fullCheckRound(extents, threads, everySteps, withSteps));
    rates.withFullCheck.push(withCheck.rate);
    rates.without.push(without.rate);
    stallMs.withFullCheck.push(withCheck.longestStallMs);
    stallMs.without.push(without.longestStallMs);
    // The runner time the round with the check took beyond the same steps at the rate without.
    lostMs.push(1000 * (withCheck.stepsRun / withCheck.rate - withCheck.stepsRun / without.rate));
    log(
      `round ${round + 1}/${rounds}: ${withCheck.stepsRun} steps, ${withCheck.rate.toFixed(2)} steps/s with a full check, ${without.rate.toFixed(2)} without`,
    );
  }
  const steps = batchSteps + 1;
  const parts = await fullCheckMs(extents, steps, threads);
  return {
    extents: extents,
    everyMs: DEFAULT_FULL_CHECK_EVERY_MS,
    steps,
    ...parts,
    accountedCostPct: (100 * (parts.oracleMs + parts.jsMs)) / DEFAULT_FULL_CHECK_EVERY_MS,
    stepsPerSecond: { without: median(rates.without), withFullCheck: median(rates.withFullCheck) },
    longestEventLoopStallMs: { without: median(stallMs.without), withFullCheck: median(stallMs.withFullCheck) },
    measuredCostPct: rounded(lostMs.map((ms) => (100 * ms) / DEFAULT_FULL_CHECK_EVERY_MS)),
  };
}
