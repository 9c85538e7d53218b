// The energy drift the watchdog accepts. In f32 the rounding of each step
// moves the energy of the lattice's own kernel in a random walk, so a fixed
// bound is one that kernel crosses in a long enough run; every check after it
// failed and rolled the state back to the same snapshot, for good (an f32
// main job at f64's 1e-9 ran 71833 steps to end at step 23).
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { driftToleranceAt } from '../dist/ts/lattice/watchdog.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

describe('the drift a check accepts', () => {
  it('is the tolerance in f64, and in f32 grows with the root of the step by six deviations of 2^-24', () => {
    expect(driftToleranceAt(1e-9, 'f64', 0)).toBe(1e-9);
    expect(driftToleranceAt(1e-9, 'f64', 1e8)).toBe(1e-9);
    expect(driftToleranceAt(1e-4, 'f32', 0)).toBe(1e-4);
    expect(driftToleranceAt(1e-4, 'f32', 1e8)).toBeCloseTo(1e-4 + 6 * 2 ** -24 * 1e4, 12);
    expect(driftToleranceAt(1e-9, 'f32', 100)).toBeCloseTo(1e-9 + 60 * 2 ** -24, 15);
  });

  it("lets an f32 lattice's own kernel run on under a tolerance its rounding alone crosses by step 50", async () => {
    const lat = new Lattice({ extents: [64, 64], dt: 0.6, threads: 2, precision: 'f32' });
    lattices.push(lat);
    const state = randomState(lat, 3);
    lat.setState(state.previous, state.current);
    const events: WatchdogEvent[] = [];
    // A rollback is the failure: the run is stopped there rather than left rolling back to the same snapshot.
    lat.on('watchdog', (event: WatchdogEvent) => {
      events.push(event);
      void lat.stop();
    });
    const summary = await lat.run({ steps: 2000, watchdog: { everySteps: 50, driftTolerance: 1e-9 } });
    expect(summary.error).toBeNull();
    expect(events).toEqual([]);
    expect(lat.stepCount).toBe(2000);
    // The bound it stayed within was not the fixed one.
    const drift = lat.checkInvariants({ driftTolerance: 1, wrapProbe: false }).energyDrift;
    expect(drift).toBeGreaterThan(1e-9);
    expect(drift).toBeLessThanOrEqual(driftToleranceAt(1e-9, 'f32', 2000));
  });
});

describe("a check the lattice's own kernel fails every time", () => {
  it('stops the run with an error naming the tolerance, rather than rolling back to the same step for good', async () => {
    const lat = new Lattice({ extents: [32, 30], dt: 0.6, threads: 2, precision: 'f64' });
    lattices.push(lat);
    const state = randomState(lat, 3);
    lat.setState(state.previous, state.current);
    const events: WatchdogEvent[] = [];
    lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
    // No f64 drift is this small: every check after the first fails, and rolling back puts back the same kernel.
    const summary = await lat.run({ steps: 1_000_000, watchdog: { everySteps: 10, driftTolerance: 1e-300, differential: false } });
    expect(summary.error).toMatch(
      /^the watchdog stopped the run: energy drift \S+ at step \d+ exceeds the tolerance 1e-300 \(watchdog\.driftTolerance\), again after the state was restored to step \d+, and the kernel that failed, reference, is the step slot's last-known-good/,
    );
    // The first rollback could have mended a fault of the moment; the second, to the same step, stopped the run, and
    // the snapshots the runner had announced before it stopped, checked after, roll nothing back.
    expect(events).toHaveLength(2);
    const [first, second] = events as [WatchdogEvent, WatchdogEvent];
    expect([first.rolledBackFrom, first.rolledBackTo, second.rolledBackFrom, second.rolledBackTo]).toEqual([
      'reference',
      'reference',
      'reference',
      'reference',
    ]);
    expect(second.restoredStep).toBe(first.restoredStep);
    expect(lat.running).toBe(false);
    expect(summary.endStep).toBeLessThan(1_000_000);
  });
});
