// Extra cone probes: the runner gathers cones at every boundary anyway, and
// the watchdog checks as many of those gathers as its cost share affords
// beyond its plans (spareUnitsPerStep, set in the core as a take rate, drawn
// after each batch). With every gather handed over, a kernel wrong at one
// cell is caught by the first probe that draws the cell.
import { describe, expect, it } from 'vitest';
import type { CoreConeProbe } from '../dist/native/addon-types.js';
import { resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { SnapshotCadence, spareChecksPerStep } from '../dist/ts/lattice/watchdog-cadence.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { until } from './helpers/until.js';
import { watchedCore } from './helpers/watched-lattice.js';

describe('what the cost share affords beyond the plans', () => {
  it('is the share of a step over a check, less the plans, and never negative', () => {
    // 1% of a 100 ms step over a 2 ms check: 0.5 checks a step, less one every 50 steps.
    expect(spareChecksPerStep(2, 100, 0.01, 50)).toBeCloseTo(0.48, 12);
    // A tight budget: the plans alone take the share (the cadence defers them), nothing spare.
    expect(spareChecksPerStep(100, 100, 0.01, 50)).toBe(0);
    // A check that costs nothing measurable: everything; no rate measured yet: nothing.
    expect(spareChecksPerStep(0, 100, 0.01, 50)).toBe(Infinity);
    expect(spareChecksPerStep(2, 0, 0.01, 50)).toBe(0);
  });

  it('follows the cadence: nothing before two checks, then the measured rate and the median cost per cell', () => {
    const cadence = new SnapshotCadence(50, 0.01, seededRandom(1));
    cadence.next(0, 0, 2, 10);
    expect(cadence.spareUnitsPerStep).toBe(0);
    // 100 steps in 10 s: 100 ms a step; 0.2 ms a cell: 1% of 100 ms buys 5 cells a step, less 10 every 50 steps.
    cadence.next(100, 10_000, 2, 10);
    expect(cadence.spareUnitsPerStep).toBeCloseTo(5 - 10 / 50, 12);
    // A larger probe, cheaper per cell (0.1 ms), and a step twice as long: per-cell costs 0.2, 0.2, 0.1 give 0.2 still.
    cadence.next(200, 30_000, 4, 40);
    expect(cadence.spareUnitsPerStep).toBeCloseTo((0.01 * 200) / 0.2 - 40 / 50, 12);
    // The plans alone over the share: nothing spare.
    cadence.next(300, 30_100, 400, 40);
    cadence.next(400, 30_200, 400, 40);
    expect(cadence.spareUnitsPerStep).toBe(0);
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
      expect(() => core.setConeTakeRate(-1)).toThrow(/take rate = -1/);
    } finally {
      core.close();
    }
  });
});
