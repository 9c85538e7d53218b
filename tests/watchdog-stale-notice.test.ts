// A watchdog judges its own run's notices, every one of them. The core tells
// of a run's end after its last notice (tests/run-notices-order.test.ts); a
// notice that came later anyway must not be judged by the ended run's
// watchdog against the next run's snapshot of the same step, as, when the end
// came on a queue of its own, one was in a loaded `npm test`, and rolled back
// the lattice's own kernel. A check a hold deferred is the run's last when the
// run ends before the hold is released: it runs at the end.
import { describe, expect, it } from 'vitest';
import type { CoreLattice } from '../native/addon-types.js';
import type { LatticeConfig } from '../dist/ts/lattice/options.js';
import { WatchdogRun } from '../dist/ts/lattice/watchdog-run.js';

const CONFIG: LatticeConfig = {
  extents: [8, 8],
  c: 1,
  h: 1,
  dt: 0.5,
  precision: 'f64',
  cells: 64,
  courantNumber: 0.5,
  threads: 1,
  kernel: undefined,
  sharedState: false,
  batchLatencyMs: 50,
  maxBatchSteps: 64,
};

/** A core that records which snapshot copies the watchdog asks for and has none to give. */
function recordingCore(copies: number[]): CoreLattice {
  const core = {
    stepCount: 0,
    fpRestores: () => ({ step: 0, readout: 0 }),
    copySnapshot: () => {
      copies.push(core.stepCount);
      return null;
    },
    setProbe: () => {},
    setProbeWholeLevel: () => {},
    deferSnapshots: () => {},
    settleSnapshot: () => {},
  };
  return core as unknown as CoreLattice;
}

/** A lattice's watchdog on a recording core, which no check may roll back; `copies` are the steps of the snapshots it asked for. */
function watched(): { copies: number[]; core: CoreLattice & { stepCount: number }; watchdogs: WatchdogRun } {
  const copies: number[] = [];
  const core = recordingCore(copies) as CoreLattice & { stepCount: number };
  const watchdogs = new WatchdogRun(core, CONFIG, CONFIG.cells, () => {
    throw new Error('nothing is rolled back');
  });
  return { copies, core, watchdogs };
}

const OPTIONS = { everySteps: 2, differential: false as const };

describe("a watchdog's notices", () => {
  it('of an ended run are not checked, neither after its end nor once the next run has begun', () => {
    const { copies, core, watchdogs } = watched();
    const ended = watchdogs.start(OPTIONS, 1);
    core.stepCount = 2;
    ended.onSnapshot!(2);
    expect(copies).toEqual([2]);
    watchdogs.end();
    ended.onSnapshot!(4);
    expect(copies).toEqual([2]);

    const next = watchdogs.start(OPTIONS, 1);
    core.stepCount = 4;
    ended.onSnapshot!(4);
    expect(copies).toEqual([2]);
    next.onSnapshot!(4);
    expect(copies).toEqual([2, 4]);
  });

  it('deferred by a hold are checked when their run ends, not dropped, and not again on release', () => {
    const { copies, core, watchdogs } = watched();
    const run = watchdogs.start(OPTIONS, 1);
    const release = watchdogs.hold();
    core.stepCount = 6;
    run.onSnapshot!(6);
    expect(copies).toEqual([]);
    watchdogs.end();
    expect(copies).toEqual([6]);
    release();
    expect(copies).toEqual([6]);
  });

  it('are not checked once the lattice has closed, held or not', () => {
    const { copies, core, watchdogs } = watched();
    const run = watchdogs.start(OPTIONS, 1);
    const release = watchdogs.hold();
    core.stepCount = 2;
    run.onSnapshot!(2);
    watchdogs.close();
    run.onSnapshot!(4);
    watchdogs.end();
    release();
    expect(copies).toEqual([]);
  });
});
