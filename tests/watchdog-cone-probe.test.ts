// The watchdog's cone probes between full snapshots: a kernel that
// misbehaves in one batch between two snapshots, which no snapshot's probe
// spans, is caught by the cone probe the seed puts on that batch and rolled
// back to the last verified snapshot; a correct kernel passes hundreds of
// cone probes in either precision; the probes' steps are drawn so that a
// kernel counting its steps cannot know which batch is probed.
import { afterEach, describe, expect, it } from 'vitest';
import type { Lattice } from '@ouroboros-engine/core';
import { coneProbeRandom, drawConeProbe } from '../dist/ts/lattice/differential-check.js';
import { resolveCadence, resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { until } from './helpers/until.js';
import { watchdogEvents, watchedCore, watchedLattice } from './helpers/watched-lattice.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function lattice(extents: number[], precision: 'f64' | 'f32', maxBatchSteps?: number): Lattice {
  const lat = watchedLattice(extents, precision, maxBatchSteps);
  lattices.push(lat);
  return lat;
}

const collect = watchdogEvents;

describe('a kernel that misbehaves in one batch between two snapshots', () => {
  // misbehaving_WrongInOneBatch skips the last step of the call that takes its
  // step 120 (mod 1000) since loading. Batches of one step, snapshots every
  // 1000 steps: the snapshot at step 0 and its probe (steps 0 to 2 at most)
  // never see step 120.
  const extents = [64, 64];
  const wrongStep = 120;
  const everySteps = 1000;
  const coneEverySteps = 100;
  const probedCells = 64;

  /** The first seed whose first cone probe (drawn from step 0) spans step 120. */
  function seedProbing(step: number): number {
    for (let seed = 0; ; seed++) {
      const plan = drawConeProbe(coneProbeRandom(seed), 0, coneEverySteps);
      if (plan.atStep === step || (plan.delayed && plan.atStep === step - 1)) return seed;
    }
  }

  it('is missed by the snapshots alone and caught by the cone probe the seed puts on that batch', async () => {
    const kernel = 'build/test-kernels/misbehaving_WrongInOneBatch.so';
    // Without cone probes: 1000 steps, the kernel wrong in its step 120, and no check sees it.
    const unprobed = lattice(extents, 'f64', 1);
    await unprobed.swap('step', await unprobed.loadModule(kernel));
    const missed = collect(unprobed);
    const control = await unprobed.run({
      steps: everySteps,
      watchdog: { everySteps, differential: { cells: probedCells, seed: 1, fullCheckEveryMs: 0, coneEverySteps: 0 } },
    });
    expect(control.error).toBeNull();
    expect(missed).toEqual([]);
    expect(unprobed.kernelName).toBe('misbehaving');

    // The kernel has taken 1000 steps: on this lattice it is wrong at step 120 again.
    const lat = lattice(extents, 'f64', 1);
    await lat.swap('step', await lat.loadModule(kernel));
    const seed = seedProbing(wrongStep);
    const plan = drawConeProbe(coneProbeRandom(seed), 0, coneEverySteps);
    const events = collect(lat);
    const summary = await lat.run({
      steps: 400,
      watchdog: { everySteps, differential: { cells: probedCells, seed, fullCheckEveryMs: 0, coneEverySteps } },
    });
    expect(summary.error).toBeNull();
    await until(() => events.length > 0);
    expect(events[0]).toMatchObject({
      reason: 'differential',
      slot: 'step',
      checkedStep: plan.atStep,
      restoredStep: 0,
      rolledBackFrom: 'misbehaving',
      rolledBackTo: 'reference',
    });
    const steps = plan.delayed ? 2 : 1;
    expect(events[0]!.detail).toMatch(
      new RegExp(
        `^differential check of a cone probe: the kernel's ${steps} step\\(s\\) from ${plan.atStep} to ${plan.atStep + steps} differ from the oracle's at \\d+ of \\d+ sampled cells`,
      ),
    );
    expect(lat.kernelName).toBe('reference');
  });
});

describe('a correct kernel', () => {
  it.each([
    ['f64', [64, 48]],
    ['f32', [64, 48]],
    ['f64', [14, 12, 10]],
  ] as const)('passes hundreds of cone probes with no false alarm (%s, %j)', async (precision, extents) => {
    // Batches of 1 to 4 steps (the sizer ramps up), each cone probe's one or two of them: the oracle's cones stay small.
    const lat = lattice([...extents], precision, 4);
    const events = collect(lat);
    // Cone probes every 5 steps on average; snapshots only every 100,000, with a drift bound that f32 never nears.
    const differential = { cells: 128, seed: 11, fullCheckEveryMs: 0, coneEverySteps: 5 };
    const run = lat.run({ watchdog: { everySteps: 100_000, driftTolerance: 1e-2, differential } });
    await until(() => (lat.coneProbes?.checked ?? 0) >= 300 || events.length > 0);
    await lat.stop();
    expect((await run).error).toBeNull();
    expect(events).toEqual([]);
    expect(lat.coneProbes).toBeNull();
  });
});

describe('the cone probes cadence', () => {
  it('draws the next probe 1 to 2K - 1 steps on, K on average, with a fresh seed for its cells and fair coins', () => {
    const random = seededRandom(5);
    const gaps: number[] = [];
    let delayed = 0;
    let remainder = 0;
    const seeds = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const plan = drawConeProbe(random, 1000, 50);
      gaps.push(plan.atStep - 1000);
      delayed += plan.delayed ? 1 : 0;
      remainder += plan.remainder ? 1 : 0;
      expect(Number.isInteger(plan.cellSeed) && plan.cellSeed >= 0 && plan.cellSeed < 2 ** 32).toBe(true);
      seeds.add(plan.cellSeed);
    }
    expect(seeds.size).toBeGreaterThan(19_900);
    expect(Math.min(...gaps)).toBe(1);
    expect(Math.max(...gaps)).toBe(99);
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeCloseTo(50, 0);
    expect(Math.abs(delayed / 20_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(remainder / 20_000 - 0.5)).toBeLessThan(0.02);
  });

  it('takes the extremes of the injected random source exactly', () => {
    expect(drawConeProbe(() => 0, 7, 10).atStep).toBe(8);
    expect(drawConeProbe(() => 0.999_999_999, 7, 10).atStep).toBe(26);
    // One step apart on average: every step.
    expect(drawConeProbe(() => 0.999_999_999, 7, 1).atStep).toBe(8);
  });

  it("draws a run's cone probes apart from its snapshot probes: the same seed, another sequence", () => {
    const cones = coneProbeRandom(3);
    const snapshots = seededRandom(3);
    expect([cones(), cones()]).not.toEqual([snapshots(), snapshots()]);
    expect(coneProbeRandom(3)()).toBe(coneProbeRandom(3)());
  });

  it("spaces cone probes by the watchdog's everySteps unless told, and takes none when every snapshot compares every cell", () => {
    expect(resolveDifferential({ seed: 1 }, 4096, 50)!.coneEverySteps).toBe(50);
    expect(resolveDifferential({ seed: 1, coneEverySteps: 7 }, 4096, 50)!.coneEverySteps).toBe(7);
    expect(resolveDifferential({ seed: 1, cells: 'all' }, 4096, 50)!.coneEverySteps).toBe(0);
    expect(() => resolveDifferential({ coneEverySteps: -1 }, 4096, 50)).toThrow(/watchdog\.differential\.coneEverySteps/);
  });

  it('defers the next cone probe by what each cost on the injected clock, and the core takes none before its step', async () => {
    const coneEvery = 10;
    const fixture = watchedCore();
    const core = fixture.core;
    try {
      // A clock on which a step takes 10 ms and every reading during a check 125 ms more: each probe costs
      // hundreds of ms, many times 1% of a 10-step interval, so the cone cadence defers by many intervals.
      let checkingMs = 0;
      const now = () => core.stepCount * 10 + (checkingMs += 125);
      const cadence = resolveCadence({ everySteps: 10_000, maxCostShare: 0.01, now }, 10_000, 5);
      const differential = resolveDifferential({ cells: 32, seed: 5, fullCheckEveryMs: 0, coneEverySteps: coneEvery }, 64 * 64, 10_000);
      const arms: number[] = [];
      const taken: Array<{ step: number; steps: number; armedAt: number }> = [];
      fixture.spy('armConeProbe', (args) => arms.push(args[4]));
      fixture.spy('takeConeProbe', (_args, probe) => {
        if (probe !== null) taken.push({ step: probe.step, steps: probe.steps, armedAt: arms.at(-1)! });
      });
      const rollbacks = fixture.rollbacks;
      const watchdog = fixture.watchdog(differential, cadence);
      watchdog.prime();
      const summary = await core.run(
        20_000,
        10_000,
        (step) => watchdog.check(step),
        null,
        () => watchdog.checkCone(),
      );
      await watchdog.coneSettled();
      expect(summary.error).toBeNull();
      expect(rollbacks).toEqual([]);
      expect(taken.length).toBeGreaterThan(2);
      // The runner takes a probe at or after the step last armed before it (a skip only puts it later), or, a
      // plan's follow-on, once the probe before it has ended (taken in the same call, before the next was armed).
      taken.forEach((probe, i) => {
        const followsOn = i > 0 && probe.step >= taken[i - 1]!.step + taken[i - 1]!.steps;
        expect(probe.step >= probe.armedAt || followsOn).toBe(true);
      });
      // The cadence re-arms further on as each verdict comes back: its armed steps leap by many intervals. (Arms against
      // takes is a race: the runner takes a plan's follow-on without an arm, and on a loaded machine it took more of
      // them before the JS thread re-armed than there were re-arms, 233 takes against 228 arms.)
      const leaps = arms.slice(1).map((step, i) => step - arms[i]!);
      expect(Math.max(...leaps)).toBeGreaterThan(2 * coneEvery);
      // Far fewer than a probe every 10 steps (the mean deferral is tens of intervals), and some gap is many intervals.
      expect(taken.length).toBeLessThan(20_000 / coneEvery / 5);
      const gaps = taken.slice(1).map((probe, i) => probe.step - taken[i]!.step);
      expect(Math.max(...gaps)).toBeGreaterThan(2 * coneEvery);
    } finally {
      core.close();
    }
  });
});
