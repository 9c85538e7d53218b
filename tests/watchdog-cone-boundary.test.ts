// What a kernel can see of the cone probes: nothing that tells a probed
// batch from another. While cone probes are on, the runner gathers the same
// number of cone values before every batch of a given length, probed or not,
// and every batch is capped where one cone of its length fits the oracle's
// budget, so a probe of the plain shape has the live batch's length in 3-D
// as in 2-D. The step trace shows it: per batch, the values gathered before
// it and whether it was handed to the watchdog. A kernel wrong only in
// batches of the live length, which a shortened probe never saw, is caught.
import { afterEach, describe, expect, it } from 'vitest';
import type { Lattice } from '@ouroboros-engine/core';
import { resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { until } from './helpers/until.js';
import { watchdogEvents, watchedCore, watchedLattice } from './helpers/watched-lattice.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

describe('the boundaries of a run with cone probes', () => {
  it.each([
    // 2-D: batches of 4, far below the cap of 255 steps a budget of 2^18 values allows.
    { extents: [64, 64], maxBatchSteps: 4, coneValues: 2 ** 18, live: 4, cap: 255 },
    // 3-D: a budget of 2,000 values caps every batch at 5 steps (11^3 = 1331 fits, 13^3 does not), not only probed ones.
    { extents: [14, 12, 10], maxBatchSteps: 8, coneValues: 2000, live: 5, cap: 5 },
  ])('gather the same before probed and unprobed batches, all of the live length ($extents)', async ({ extents, maxBatchSteps, coneValues, live, cap }) => {
    const fixture = watchedCore(extents, maxBatchSteps);
    const core = fixture.core;
    try {
      const cells = extents.reduce((a, b) => a * b, 1);
      const differential = resolveDifferential({ cells: 128, seed: 11, fullCheckEveryMs: 0, coneEverySteps: 5, coneValues }, cells, 100_000);
      const watchdog = fixture.watchdog(differential);
      core.traceSteps(1 << 16);
      watchdog.prime();
      const summary = await core.run(
        3000,
        100_000,
        (step) => watchdog.check(step),
        null,
        () => watchdog.checkCone(),
      );
      await watchdog.coneSettled();
      expect(summary.error).toBeNull();
      expect(fixture.rollbacks).toEqual([]);
      expect(core.watchdogCounters().coneBatchCap).toBe(cap);
      const trace = core.takeTrace();
      // Past the sizer's ramp and the first snapshot's probe.
      const from = trace.step.findIndex((step) => step >= 50);
      const unprobed = new Map<number, Set<number>>();
      const plainProbed: number[] = [];
      let shapedProbes = 0;
      for (let i = from; i < trace.step.length - 1; i++) {
        const steps = trace.steps[i]!;
        const values = trace.coneValues[i]!;
        // Every boundary gathers, a shaped probe's later batches too (their cones were gathered before its first).
        expect(values).toBeGreaterThan(0);
        // A probe of another shape (the live batch divides K here: only the delayed one-step call) shows by its first batch's length.
        if (steps !== live) {
          expect(trace.coneProbed[i]).toBe(1);
          shapedProbes += 1;
          continue;
        }
        if (trace.coneProbed[i] === 0) {
          unprobed.set(steps, (unprobed.get(steps) ?? new Set()).add(values));
        } else {
          plainProbed.push(i);
        }
      }
      // One count of values per batch length, the same before a probed batch of the live length, plain or a shaped probe's second.
      expect([...unprobed.keys()]).toEqual([live]);
      expect(unprobed.get(live)!.size).toBe(1);
      const gathered = [...unprobed.get(live)!][0]!;
      expect(gathered).toBeGreaterThan(0);
      expect(plainProbed.length).toBeGreaterThan(20);
      for (const i of plainProbed) {
        expect(trace.steps[i]).toBe(live);
        expect(trace.coneValues[i]).toBe(gathered);
      }
      // The plain shape, the one every unprobed batch has, is as common as any other: two fair coins make it 1 in 4.
      expect(plainProbed.length).toBeGreaterThan(shapedProbes / 6);
    } finally {
      core.close();
    }
  });
});

describe('a kernel wrong only in batches of the live length', () => {
  it('is caught by a cone probe in 3-D, where probes no longer shorten the batch', async () => {
    // Batches would reach 8 steps; a budget of 2,000 values caps them all at 5. The kernel is wrong in 5-step calls
    // from its fourth on, right in the shorter ones a shaped probe ends with. Snapshots only every 100,000 steps: the
    // one at step 0 probes the sizer's ramp, which is correct.
    const lat = watchedLattice([14, 12, 10], 'f64', 8);
    lattices.push(lat);
    await lat.swap('step', await lat.loadModule('build/test-kernels/misbehaving_WrongOnLongestBatches.so'));
    const events = watchdogEvents(lat);
    const summary = await lat.run({
      steps: 400,
      watchdog: { everySteps: 100_000, differential: { cells: 64, seed: 4, fullCheckEveryMs: 0, coneEverySteps: 5, coneValues: 2000 } },
    });
    expect(summary.error).toBeNull();
    await until(() => events.length > 0);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(events[0]!.restoredStep).toBe(0);
    expect(events[0]!.detail).toMatch(/^differential check of a cone probe: the kernel's \d+ step\(s\)/);
    expect(lat.kernelName).toBe('reference');
  });
});
