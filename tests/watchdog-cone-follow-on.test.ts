// The batch right after a cone probe: a kernel that could tell a probe
// (every boundary gathers the same, so it cannot by timing) would misbehave
// in the next call, which the watchdog, arming the next probe only once it
// has taken this one, could hardly ever probe. Each plan therefore carries
// its follow-on, due a drawn number of steps (0 included) after the first
// ends, at cells drawn afresh, gathered into another slot while the first is
// still being checked. Its own file: misbehaving_WrongInOneBatch counts its steps
// since loading, process-wide, and here it must start at 0.
import { afterEach, expect, it } from 'vitest';
import type { Lattice } from '@ouroboros-engine/core';
import { coneProbeRandom, drawConeProbe, drawFollowingProbe } from '../dist/ts/lattice/differential-check.js';
import { until } from './helpers/until.js';
import { watchdogEvents, watchedLattice } from './helpers/watched-lattice.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

// The kernel skips the last step of the call that takes its step 120; batches of one step, snapshots every 1000.
const extents = [64, 64];
const wrongStep = 120;
const everySteps = 1000;
const coneEverySteps = 60;
const probedCells = 16;

/**
 * The first seed whose first cone probe is the one-step batch just before
 * the wrong one (its step 119, no delayed call) and whose follow-on comes 0
 * steps after it ends: on the wrong batch, right after the first probe.
 */
function seedProbingRightAfter(): number {
  for (let seed = 0; ; seed++) {
    const random = coneProbeRandom(seed);
    const first = drawConeProbe(random, 0, coneEverySteps);
    if (first.atStep !== wrongStep - 1 || first.delayed) continue;
    if (drawFollowingProbe(random, coneEverySteps).offsetSteps === 0) return seed;
  }
}

it('catches a kernel wrong in the batch right after a cone probe, by the follow-on the draw puts there', async () => {
  const lat = watchedLattice(extents, 'f64', 1);
  lattices.push(lat);
  await lat.swap('step', await lat.loadModule('build/test-kernels/misbehaving_WrongInOneBatch.so'));
  const seed = seedProbingRightAfter();
  const events = watchdogEvents(lat);
  const summary = await lat.run({
    steps: 400,
    watchdog: { everySteps, differential: { cells: probedCells, seed, fullCheckEveryMs: 0, coneEverySteps } },
  });
  expect(summary.error).toBeNull();
  await until(() => events.length > 0);
  // The first probe (step 119) passed; its follow-on, gathered at the boundary where the first ended, did not.
  expect(events[0]).toMatchObject({
    reason: 'differential',
    slot: 'step',
    checkedStep: wrongStep,
    restoredStep: 0,
    rolledBackFrom: 'misbehaving',
    rolledBackTo: 'reference',
  });
  expect(events[0]!.detail).toMatch(new RegExp(`^differential check of a cone probe: the kernel's [12] step\\(s\\) from ${wrongStep} to `));
  expect(events).toHaveLength(1);
});
