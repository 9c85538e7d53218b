// Extra cone probes: the runner gathers cones at every boundary anyway, and
// the watchdog checks as many of those gathers as its cost share affords
// beyond its plans (affordableCellsPerStep from the oracle calls' fixed and
// per-cell cost, set in the core as a take rate, drawn after each batch),
// many probes to an oracle call. With every gather handed over, a kernel
// wrong at one cell is caught by the first probe that draws the cell.
import { describe, expect, it } from 'vitest';
import type { CoreConeProbe } from '../dist/native/addon-types.js';
import { resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { ConeCostModel, affordableCellsPerStep, fitConeCost } from '../dist/ts/lattice/cone-cost.js';
import { SnapshotCadence } from '../dist/ts/lattice/watchdog-cadence.js';
import { seededRandom } from '../dist/ts/util/random.js';
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

  it("goes by the time a step took between the cone cadence's last two checks", () => {
    const cadence = new SnapshotCadence(50, 0.01, seededRandom(1));
    cadence.next(0, 0, 2);
    expect(cadence.msPerStep).toBe(0);
    cadence.next(100, 10_000, 2);
    expect(cadence.msPerStep).toBe(100);
  });
});

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
