// Extra cone probes: the runner gathers cones at every boundary anyway, and
// the watchdog checks as many of those gathers as its cost share affords
// beyond its plans (affordableCellsPerStep from the oracle calls' fixed and
// per-cell cost, its level set by what the latest calls cost, at the time a
// step takes now: ConeTakeRate; set in the core as a take rate, drawn after
// each batch), many probes to an oracle call. The rate's controller is run
// on a simulated run with injected step times and costs. With every gather handed over, a kernel
// wrong at one cell is caught by the first probe that draws the cell.
import { describe, expect, it } from 'vitest';
import type { CoreConeProbe } from '../dist/native/addon-types.js';
import { resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { ConeCostModel, affordableCellsPerStep, fitConeCost } from '../dist/ts/lattice/cone-cost.js';
import { ConeTakeRate, MIN_WINDOW_CALLS, RECENT_STEPS, SPEND_WINDOW_MS } from '../dist/ts/lattice/cone-take-rate.js';
import { until } from './helpers/until.js';
import { watchedCore } from './helpers/watched-lattice.js';

describe("the cone probes' cost: a fixed part per oracle call and a part per cell", () => {
  it('is fitted from calls of different sizes, whatever one slowed call says', () => {
    // 1 ms a call and 2 us a cell.
    const calls = [
      { cells: 100, costMs: 1.2 },
      { cells: 1000, costMs: 3 },
      { cells: 4000, costMs: 9 },
      { cells: 2000, costMs: 5 },
    ];
    const fit = fitConeCost(calls)!;
    expect(fit.fixedMs).toBeCloseTo(1, 9);
    expect(fit.perCellMs).toBeCloseTo(0.002, 12);
    // A call slowed tenfold by something else moves neither part.
    const slowed = fitConeCost([...calls, { cells: 1000, costMs: 30 }])!;
    expect(slowed.fixedMs).toBeCloseTo(1, 9);
    expect(slowed.perCellMs).toBeCloseTo(0.002, 12);
  });

  it('is all per cell when the calls are of one size, and unknown before any', () => {
    const fit = fitConeCost([
      { cells: 4096, costMs: 8 },
      { cells: 4096, costMs: 10 },
      { cells: 4096, costMs: 9 },
    ]);
    expect(fit).toEqual({ fixedMs: 0, perCellMs: 9 / 4096 });
    expect(fitConeCost([])).toBeNull();
    const model = new ConeCostModel();
    for (let i = 0; i < 20; i++) model.record(i < 12 ? 10 : 4096, 100);
    // Only the latest calls count: the first twelve, of 10 cells at 10 ms a cell, are out of the window.
    expect(model.fit()).toEqual({ fixedMs: 0, perCellMs: 100 / 4096 });
  });

  it('buys cells, not calls: the rate solves the share for the calls it makes', () => {
    const fit = { fixedMs: 1, perCellMs: 0.002 };
    // 1% of a 100 ms step is 1 ms: calls of 4096 cells cost 2.24 us a cell, every 9 steps at 445.6 cells a step.
    expect(affordableCellsPerStep(fit, 100, 0.01, 4096, 50)).toBeCloseTo(1 / (0.002 + 1 / 4096), 9);
    // At 20 us a cell the batches stay below 4096 cells: one call every 50 steps, 49 cells a step.
    expect(affordableCellsPerStep({ fixedMs: 1, perCellMs: 0.02 }, 100, 0.01, 4096, 50)).toBeCloseTo(49, 9);
    // A call every 50 steps alone costs more than the share: nothing.
    expect(affordableCellsPerStep({ fixedMs: 100, perCellMs: 0.002 }, 100, 0.01, 4096, 50)).toBe(0);
    // Nothing measured yet: nothing; nothing measurable spent: no limit.
    expect(affordableCellsPerStep(null, 100, 0.01, 4096, 50)).toBe(0);
    expect(affordableCellsPerStep(fit, 0, 0.01, 4096, 50)).toBe(0);
    expect(affordableCellsPerStep({ fixedMs: 0, perCellMs: 0 }, 100, 0.01, 4096, 50)).toBe(Infinity);
  });
});

describe('the take rate, held to the share while the step time changes', () => {
  it('goes by the time a step takes over the latest steps, afresh after a rollback', () => {
    const rate = new ConeTakeRate(0.01);
    expect(rate.msPerStep).toBe(0);
    rate.observeStep(0, 0);
    expect(rate.msPerStep).toBe(0);
    // 100 ms a step for 20 steps, then 50: after RECENT_STEPS steps at the new pace only the new pace counts.
    for (let step = 1; step <= 20; step++) rate.observeStep(100 * step, step);
    expect(rate.msPerStep).toBe(100);
    for (let step = 21; step <= 20 + RECENT_STEPS; step++) rate.observeStep(2000 + 50 * (step - 20), step);
    expect(rate.msPerStep).toBe(50);
    // Seen again at the same step: its first sighting stands.
    rate.observeStep(5000, 20 + RECENT_STEPS);
    expect(rate.msPerStep).toBe(50);
    // A rollback moves the step back: the pace is measured afresh from there.
    rate.observeStep(6000, 10);
    expect(rate.msPerStep).toBe(0);
    rate.observeStep(6030, 11);
    expect(rate.msPerStep).toBe(30);
  });

  it("sets the fit's level to what the window's calls and dropped gathers cost", () => {
    const rate = new ConeTakeRate(0.01);
    const fit = { fixedMs: 1, perCellMs: 0.001 };
    expect(rate.costRatio(fit)).toBe(1);
    // Calls of 1000 cells the fit puts at 2 ms: three at 2 ms and one at 4 (the median's 2, the mean 2.5).
    [2, 2, 4, 2].forEach((costMs, i) => rate.spend(i * 100, 1000, costMs));
    expect(rate.costRatio(fit)).toBeCloseTo(10 / 8, 12);
    // A dropped extra's gather is spent on no cell the calls checked: it raises the level.
    rate.spend(400, 0, 2);
    expect(rate.costRatio(fit)).toBeCloseTo(12 / 8, 12);
    expect(rate.costRatio(null)).toBe(1);
    // 100 ms a step: the share, 1 ms a step, buys what the fit scaled by 1.5 affords.
    rate.observeStep(0, 0);
    rate.observeStep(1000, 10);
    const scaled = { fixedMs: 1.5, perCellMs: 0.0015 };
    expect(rate.cellsPerStep(fit, 4096, 50)).toBeCloseTo(affordableCellsPerStep(scaled, 100, 0.01, 4096, 50), 9);
    expect(rate.cellsPerStep(null, 4096, 50)).toBe(0);
  });

  it('forgets spending older than its window, but for the latest calls', () => {
    const rate = new ConeTakeRate(0.01);
    const fit = { fixedMs: 0, perCellMs: 0.001 };
    // Twenty calls at twice the fit, then, a window later, calls at the fit: the old ones are forgotten.
    for (let i = 0; i < 20; i++) rate.spend(i, 1000, 2);
    rate.spend(SPEND_WINDOW_MS + 100, 1000, 1);
    expect(rate.costRatio(fit)).toBeCloseTo((2 * (MIN_WINDOW_CALLS - 1) + 1) / MIN_WINDOW_CALLS, 12);
    for (let i = 0; i < MIN_WINDOW_CALLS; i++) rate.spend(SPEND_WINDOW_MS + 200 + i, 1000, 1);
    expect(rate.costRatio(fit)).toBe(1);
  });

  it('keeps the share within 1.05 of the budget a few batches after the step time halves and doubles', () => {
    const run = simulateTakeRate(0.01);
    for (const phase of run.phases) {
      expect(phase.share).toBeLessThanOrEqual(1.05 * 0.01);
      expect(phase.share).toBeGreaterThanOrEqual(0.95 * 0.01);
    }
    expect(run.share).toBeLessThanOrEqual(1.05 * 0.01);
    // The fast phase checks about half the cells a step of the slow ones: the rate followed the pace.
    expect(run.phases[1]!.cellsPerStep / run.phases[0]!.cellsPerStep).toBeCloseTo(0.5, 1);
  });
});

/**
 * A run of one-step batches whose step time is 100 ms, then 50, then 100
 * again (1500 steps each), its probes' cells sent in calls of 4096 cells or
 * every 50 steps, each answered a step later for 0.5 ms and 0.8 us a cell,
 * every fourth call twice that (a median of the calls' cost sits a fifth
 * below their mean). The take rate is solved again at every verdict. The
 * share each phase spent from SETTLE_BATCHES batches after its change to its
 * end, and over the run.
 */
function simulateTakeRate(maxCostShare: number): { share: number; phases: { share: number; cellsPerStep: number }[] } {
  const SETTLE_BATCHES = 20;
  const phases = [100, 50, 100].map((msPerStep, i) => ({ msPerStep, from: 1500 * i, to: 1500 * (i + 1) }));
  const costs = new ConeCostModel();
  const takeRate = new ConeTakeRate(maxCostShare);
  const spent: { atMs: number; costMs: number; cells: number }[] = [];
  const inFlight: { cells: number; answerStep: number }[] = [];
  let rate = 100;
  let pending = 0;
  let age = 0;
  let calls = 0;
  let nowMs = 0;
  const boundaries: number[] = [0];
  takeRate.observeStep(0, 0);
  for (const phase of phases) {
    for (let step = phase.from + 1; step <= phase.to; step++) {
      nowMs += phase.msPerStep;
      boundaries.push(nowMs);
      takeRate.observeStep(nowMs, step);
      pending += rate;
      age += 1;
      if (pending >= 4096 || age >= 50) {
        inFlight.push({ cells: Math.floor(pending), answerStep: step + 1 });
        pending = 0;
        age = 0;
      }
      while (inFlight.length > 0 && inFlight[0]!.answerStep <= step) {
        const { cells } = inFlight.shift()!;
        const costMs = (0.5 + 0.0008 * cells) * (++calls % 4 === 0 ? 2 : 1);
        spent.push({ atMs: nowMs, costMs, cells });
        costs.record(cells, costMs);
        takeRate.spend(nowMs, cells, costMs);
        rate = takeRate.cellsPerStep(costs.fit(), 4096, 50);
      }
    }
  }
  const shareBetween = (fromMs: number, toMs: number) =>
    spent.filter(({ atMs }) => atMs > fromMs && atMs <= toMs).reduce((sum, { costMs }) => sum + costMs, 0) / (toMs - fromMs);
  return {
    share: shareBetween(0, nowMs),
    phases: phases.map(({ from, to }) => {
      const [fromMs, toMs] = [boundaries[from + SETTLE_BATCHES]!, boundaries[to]!];
      const cells = spent.filter(({ atMs }) => atMs > fromMs && atMs <= toMs).reduce((sum, call) => sum + call.cells, 0);
      return { share: shareBetween(fromMs, toMs), cellsPerStep: cells / (to - from - SETTLE_BATCHES) };
    }),
  };
}

describe('a kernel wrong at one cell, with every gather handed over', () => {
  it('is caught by the first probe whose cells include it', async () => {
    // misbehaving_WrongAtOneCell adds 1e-9 at cell 256 - 1 - 85 = 170 of a 16 x 16 lattice after every call.
    const wrongCell = 170;
    const fixture = watchedCore([16, 16], 1, 'build/test-kernels/misbehaving_WrongAtOneCell.so');
    const core = fixture.core;
    try {
      // The plans far apart: every probe checked is an extra one, at the injected take rate of every gather.
      const differential = resolveDifferential({ cells: 16, seed: 9, fullCheckEveryMs: 0, coneEverySteps: 1_000_000 }, 256, 1_000_000);
      const taken: CoreConeProbe[] = [];
      fixture.spy('takeConeProbe', (_args, probe) => {
        if (probe !== null) taken.push(probe);
      });
      const watchdog = fixture.watchdog(differential);
      watchdog.prime();
      core.setConeTakeRate(1);
      const run = core.run(
        50_000_000,
        1_000_000,
        (step) => watchdog.check(step),
        null,
        () => watchdog.checkCone(),
      );
      await until(() => fixture.rollbacks.length > 0);
      core.stop();
      await run;
      await watchdog.coneSettled();
      const first = taken.findIndex((probe) => probe.cells.includes(wrongCell));
      expect(first).toBeGreaterThanOrEqual(0);
      expect(taken.slice(0, first).every((probe) => probe.extra)).toBe(true);
      // Each probe draws one cell of 256: the first to draw it comes within a few thousand (p < 1e-7 to miss).
      expect(first).toBeLessThan(4096);
      expect(fixture.rollbacks[0]).toMatch(
        new RegExp(`^differential check of a cone probe: the kernel's 1 step\\(s\\) from ${taken[first]!.step} to .*first cell ${wrongCell}:`),
      );
      expect(watchdog.coneStats.extras).toBeGreaterThan(0);
      expect(watchdog.coneStats.cellsChecked).toBeGreaterThanOrEqual(watchdog.coneStats.checked);
      // One cell a probe, sixteen to a batch (the plan's cells): one oracle call for each, and the last part batch.
      expect(watchdog.coneStats.calls).toBeLessThanOrEqual(Math.ceil(watchdog.coneStats.checked / 16) + 1);
      expect(watchdog.coneStats.calls).toBeGreaterThan(0);
      expect(() => core.setConeTakeRate(-1)).toThrow(/take rate = -1/);
    } finally {
      core.close();
    }
  });
});
