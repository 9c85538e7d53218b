// The runner's notices of snapshots and cone probes come on thread-safe
// queues of their own, which a run's end does not wait for. A notice of an
// ended run, served after the next run has begun, must not be judged by the
// ended run's watchdog against the new run's snapshot of the same step: in a
// loaded `npm test` one was, and rolled back the lattice's own kernel.
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

describe("a watchdog's notices", () => {
  it('of an ended run are not checked, neither after its end nor once the next run has begun', () => {
    const copies: number[] = [];
    const core = recordingCore(copies);
    const watchdogs = new WatchdogRun(core, CONFIG, CONFIG.cells, () => {
      throw new Error('nothing is rolled back');
    });
    const options = { everySteps: 2, differential: false as const };

    const ended = watchdogs.start(options, 1);
    (core as { stepCount: number }).stepCount = 2;
    ended.onSnapshot!(2);
    expect(copies).toEqual([2]);
    watchdogs.end();
    ended.onSnapshot!(4);
    expect(copies).toEqual([2]);

    const next = watchdogs.start(options, 1);
    (core as { stepCount: number }).stepCount = 4;
    ended.onSnapshot!(4);
    expect(copies).toEqual([2]);
    next.onSnapshot!(4);
    expect(copies).toEqual([2, 4]);
  });
});
