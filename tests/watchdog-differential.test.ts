// The differential watchdog: kernels the energy check cannot see (a frozen
// field from rest, swapped levels, one wrong cell, a step skipped only in
// some call patterns) are rolled back by the oracle's steps through the
// light cones of cells drawn afresh for every check, over the very batch the
// runner gave the kernel; correct kernels never are.
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { coreAddon, kernelModulePath, oracleAddon } from '../dist/native/loader.js';
import { cellCount, gaussianPulse, randomState } from '../dist/ts/lattice/initial-conditions.js';
import { Watchdog, resolveDifferential } from '../dist/ts/lattice/watchdog.js';
import { compareProbe, drawProbeCells } from '../dist/ts/lattice/differential-check.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { firstEventWithFullCheck } from './helpers/full-check.js';
import { until } from './helpers/until.js';

const testKernel = (name: string) => `build/test-kernels/misbehaving_${name}.so`;
const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

type Start = 'rest' | 'random';

/**
 * `maxBatchSteps`: batches of up to that many steps, with a latency bound no
 * batch comes near, so that their sizes never depend on how long a call took.
 */
function lattice(extents: number[], start: Start, precision: 'f64' | 'f32' = 'f64', maxBatchSteps?: number): Lattice {
  const batches = maxBatchSteps === undefined ? {} : { maxBatchSteps, batchLatencyMs: 10_000 };
  const lat = new Lattice({ extents, dt: extents.length > 2 ? 0.5 : 0.6, threads: 2, precision, ...batches });
  lattices.push(lat);
  const state = start === 'rest' ? gaussianPulse(lat) : randomState(lat, 3);
  lat.setState(state.previous, state.current);
  return lat;
}

async function watch(
  lat: Lattice,
  steps: number,
  watchdog: Parameters<Lattice['run']>[0] extends infer O ? (O extends { watchdog?: infer W } ? W : never) : never,
) {
  const events: WatchdogEvent[] = [];
  lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
  const summary = await lat.run({ steps, watchdog });
  expect(summary.error).toBeNull();
  return events;
}

describe('kernels the energy cannot see', () => {
  it.each([
    ['FreezeField', 'rest', 'f64'],
    ['SwapLevels', 'random', 'f64'],
    ['SwapLevels', 'random', 'f32'],
  ] as const)('%s from a %s state (%s) passes the energy check but is rolled back by the differential check', async (kernel, start, precision) => {
    const unwatched = lattice([32, 30], start, precision);
    await unwatched.swap('step', await unwatched.loadModule(testKernel(kernel)));
    expect(await watch(unwatched, 600, { everySteps: 20, differential: false })).toEqual([]);
    expect(unwatched.kernelName).toBe('misbehaving');
    expect(unwatched.checkInvariants({ driftTolerance: 1e-12, wrapProbe: false }).energyDrift).toBeLessThanOrEqual(1e-12);

    const lat = lattice([32, 30], start, precision);
    await lat.swap('step', await lat.loadModule(testKernel(kernel)));
    const events = await watch(lat, 600, { everySteps: 20, differential: { cells: 64, seed: 1 } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    // The first snapshot, at step 0: its probe checks the module's first call, one step, or (the coin) that and the next batch.
    expect(events[0]!.checkedStep).toBe(0);
    expect(events[0]!.detail).toMatch(/^differential check: the kernel's (1|3) step\(s\) from 0 to (1|3) differ from the oracle's at \d+ of 64 sampled cells/);
    expect(lat.kernelName).toBe('reference');
  });

  it('finds a kernel wrong at one cell within a bounded number of checks when the cells are drawn afresh', async () => {
    // 256 of 4096 cells per check: each check finds the cell with probability
    // 1/16, so the chance that 200 checks all miss it is (15/16)^200 < 3e-6.
    // The draws are seeded, so which check finds it is fixed; the step budget
    // allows 400 checks at 25 steps each, and only a check the runner skips
    // (the previous one still being checked) is lost.
    const extents = [64, 64];
    const badCell = 4096 - 1 - Math.floor(4096 / 3);
    const lat = lattice(extents, 'random');
    await lat.swap('step', await lat.loadModule(testKernel('WrongAtOneCell')));
    const events = await watch(lat, 10_000, { everySteps: 25, differential: { cells: 256, seed: 9 } });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential', rolledBackTo: 'reference' });
    // Over a batch of k steps the wrong value spreads to the cells within k of the bad one: the first found is one of them.
    const [, steps, firstCell] = /the kernel's (\d+) step\(s\).* first cell (\d+):/.exec(events[0]!.detail)!.map(Number);
    const torusDistance = (a: number, b: number, n: number) => Math.min(Math.abs(a - b), n - Math.abs(a - b));
    expect(torusDistance(Math.floor(firstCell! / 64), Math.floor(badCell / 64), 64)).toBeLessThanOrEqual(steps!);
    expect(torusDistance(firstCell! % 64, badCell % 64, 64)).toBeLessThanOrEqual(steps!);
    expect(events[0]!.energyDrift).toBeLessThan(1e-9);
  });

  it('rolls back a kernel wrong at one cell at the first check when the whole lattice is compared', async () => {
    const lat = lattice([64, 64], 'random');
    await lat.swap('step', await lat.loadModule(testKernel('WrongAtOneCell')));
    const events = await watch(lat, 200, { everySteps: 25, differential: { cells: 'all', seed: 3 } });
    expect(events[0]!.checkedStep).toBe(0);
    expect(events[0]).toMatchObject({ reason: 'differential' });
    // The first call is one step: one cell wrong; with the coin, that and a batch of 2, and the error spread to its cone.
    expect(events[0]!.detail).toMatch(
      /the kernel's 1 step\(s\) from 0 to 1 differ from the oracle's at 1 of 4096 sampled cells, first cell 2730:|the kernel's 3 step\(s\) from 0 to 3 differ from the oracle's at \d+ of 4096 sampled cells/,
    );
  });
});

describe('the full check of the whole lattice', () => {
  // 16 of 65,536 cells a check, one-step batches (so every draw and batch is
  // fixed by the seed): the sampled probes of this seed never reach the one
  // wrong cell's cone in 40 checks; the full check, due once the injected
  // clock has moved a minute on, compares every cell off the JS thread. No
  // cone probes: they sample cells too, and one may find the cell first.
  const extents = [256, 256];
  const sampled = { everySteps: 25, differential: { cells: 16, seed: 4, fullCheckEveryMs: 0, coneEverySteps: 0 } };

  it('a kernel wrong at one cell that the sampled probes miss is rolled back by it', async () => {
    const unchecked = lattice(extents, 'random', 'f64', 1);
    await unchecked.swap('step', await unchecked.loadModule(testKernel('WrongAtOneCell')));
    expect(await watch(unchecked, 1000, sampled)).toEqual([]);
    expect(unchecked.kernelName).toBe('misbehaving');

    const lat = lattice(extents, 'random', 'f64', 1);
    await lat.swap('step', await lat.loadModule(testKernel('WrongAtOneCell')));
    // Checked at step 0 by the sampled probe (which misses it, as above), whose check plans a full one of the next snapshot.
    const { event, error } = await firstEventWithFullCheck(lat, 1000, sampled);
    expect(error).toBeNull();
    // The next snapshot after step 0's check: at step 25, or later where the runner passed 25 while that check ran.
    expect(event).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(event.checkedStep % 25 === 0 && event.checkedStep > 0).toBe(true);
    expect(event.detail).toMatch(
      /^differential check of the whole lattice: the kernel's [12] step\(s\) from \d+ to \d+ differ from the oracle's at \d+ of 65536 cells/,
    );
    expect(event.energyDrift).toBeLessThan(1e-9);
    expect(lat.kernelName).toBe('reference');
  });

  it('compares the whole level off the JS thread in either precision, naming the first wrong cell', async () => {
    const oracle = oracleAddon();
    const extents = [40, 33];
    const state = randomState({ extents, precision: 'f64', courantNumber: 0.6 }, 5);
    const [previous, current] = [state.previous as Float64Array, state.current as Float64Array];
    const expected = oracle.stepF64(previous, current, extents, 0.36, 3).current;
    expect(await oracle.fullCheckF64Async(previous, current, extents, 0.36, 3, expected, 4)).toBeNull();
    const wrong = Float64Array.from(expected);
    wrong[700] = wrong[700]! + 1e-12;
    expect(await oracle.fullCheckF64Async(previous, current, extents, 0.36, 3, wrong, 4)).toMatchObject({ cells: 1, firstCell: 700 });

    const [previous32, current32] = [Float32Array.from(previous), Float32Array.from(current)];
    const expected32 = Float64Array.from(oracle.stepF32(previous32, current32, extents, 0.36, 3).current);
    expect(await oracle.fullCheckF32Async(previous32, current32, extents, 0.36, 3, expected32, 4)).toBeNull();
    expected32[12] = expected32[12]! + 1e-3;
    expect(await oracle.fullCheckF32Async(previous32, current32, extents, 0.36, 3, expected32, 4)).toMatchObject({ cells: 1, firstCell: 12 });
  });

  it('settles a correct kernel verified and never rolls it back', async () => {
    // A core lattice under a watchdog of its own, which says when its full check has settled.
    const core = new (coreAddon().LatticeCore)({ extents, courant2: 0.36, precision: 'f64', kernelPath: kernelModulePath('reference'), threads: 2 });
    try {
      const state = randomState({ extents, precision: 'f64', courantNumber: 0.6 }, 3);
      core.setState(state.previous, state.current);
      const energy = oracleAddon().energy(state.previous as Float64Array, state.current as Float64Array, extents, 1, 1, 0.6);
      const clock = { ms: 0 };
      const plan = resolveDifferential({ ...sampled.differential, fullCheckEveryMs: 60_000, now: () => clock.ms }, cellCount(extents));
      const rollbacks: WatchdogEvent[] = [];
      const physics = { extents, c: 1, h: 1, dt: 0.6, courant2: 0.36, precision: 'f64' as const };
      // The full check takes the core's whole level: the JS thread never builds, nor hands over, an index list of every cell.
      const indexLists: number[] = [];
      const setProbe = core.setProbe.bind(core);
      // The addon's methods are read-only on its prototype: the spy is the instance's own.
      Object.defineProperty(core, 'setProbe', {
        value: (...args: Parameters<typeof setProbe>) => {
          indexLists.push(args[0].length);
          setProbe(...args);
        },
      });
      // The steps of the snapshots the watchdog settled (verified or not), in order.
      const settled: number[] = [];
      const settleSnapshot = core.settleSnapshot.bind(core);
      Object.defineProperty(core, 'settleSnapshot', {
        value: (...args: Parameters<typeof settleSnapshot>) => {
          settled.push(args[0]);
          settleSnapshot(...args);
        },
      });
      const watchdog = new Watchdog(core, physics, energy, 1e-9, plan, (event) => rollbacks.push(event));
      watchdog.prime();
      const run = core.run(0, 25, (step) => watchdog.check(step));
      clock.ms = 60_000;
      // Step 0's check plans the full check; the next snapshot the runner takes (25, or later when step 0's check
      // outlasted 25 steps) carries it and is settled only when the oracle has answered. Wait on that settlement,
      // not on a step count, which a loaded machine can reach before the snapshot's check has begun.
      await until(() => settled.some((step) => step >= 25));
      await watchdog.fullCheckSettled();
      core.stop();
      expect((await run).error).toBeNull();
      expect(rollbacks).toEqual([]);
      expect(indexLists.length).toBeGreaterThan(0);
      expect(indexLists.filter((length) => length === cellCount(extents))).toEqual([]);
      // The snapshot the full check held became the restore point: nothing after step 0 was verified before it.
      expect(core.recover('step').restoredStep).toBeGreaterThanOrEqual(25);
    } finally {
      core.close();
    }
  });
});

describe("the core's whole-level probe", () => {
  it("hands over the kernel's whole newest level after the probed batch, with no probed cells", async () => {
    const extents = [67, 61];
    const core = new (coreAddon().LatticeCore)({ extents, courant2: 0.36, precision: 'f64', kernelPath: kernelModulePath('reference'), threads: 2 });
    try {
      const state = randomState({ extents, precision: 'f64', courantNumber: 0.6 }, 5);
      core.setState(state.previous, state.current);
      core.setProbeWholeLevel(true, false);
      const levels = { previous: new Float64Array(cellCount(extents)), current: new Float64Array(cellCount(extents)) };
      const snapshots: Array<NonNullable<ReturnType<typeof core.copySnapshot>>> = [];
      // Only the run's first snapshot, at step 0, is taken; the delayed probe spans a one-step call and the live batch.
      const run = core.run(40, 2 ** 40, (step) => {
        snapshots.push(core.copySnapshot(levels.previous, levels.current)!);
        core.settleSnapshot(step, true);
      });
      expect((await run).error).toBeNull();
      expect(snapshots).toHaveLength(1);
      const [snapshot] = snapshots as [(typeof snapshots)[number]];
      expect(snapshot.probeCells).toHaveLength(0);
      expect(snapshot.probeSteps).toBeGreaterThan(1);
      expect(snapshot.probeLevel).toHaveLength(cellCount(extents));
      const oracle = oracleAddon();
      const previous = state.previous as Float64Array;
      const current = state.current as Float64Array;
      expect(await oracle.fullCheckF64Async(previous, current, extents, 0.36, snapshot.probeSteps, snapshot.probeLevel!, 4)).toBeNull();
      // One step fewer than the probe ran is not what it holds.
      expect(await oracle.fullCheckF64Async(previous, current, extents, 0.36, snapshot.probeSteps - 1, snapshot.probeLevel!, 4)).not.toBeNull();
    } finally {
      core.close();
    }
  });
});

describe('kernels wrong only in some call patterns', () => {
  // Each skips the last step of the calls named (the levels swap: the energy
  // stays exact) and is the reference in every other call. Batches of at
  // most 5 steps between snapshots every 20 steps: the runner calls with 1,
  // 2, 4, 5, 5, ... steps, each cut to end at a multiple of 20. A run always
  // takes its first snapshot, but the later ones only while the JS thread
  // keeps up with a lattice this small: on a loaded machine a 2000-step run
  // ended with its first check alone (CI, session 19), whose probed batch was
  // a new module's first, of one step. So a kernel wrong only in longer calls
  // first runs unwatched until its batches are 5 steps long, and the run's
  // first probe checks one of them; one wrong only in one-step calls is
  // checked by that first probe as it comes.
  it.each([
    ['WrongWhenBatched', 'asked for more than one step', 40],
    ['WrongWhenSingle', 'asked for one step', 0],
    ['WrongOnOddBatches', 'asked for an odd number of steps above one', 40],
  ] as const)('%s (wrong only when %s) is rolled back by the probe of the live batch', async (kernel, _when, unwatchedSteps) => {
    const lat = lattice([32, 30], 'random', 'f64', 5);
    await lat.swap('step', await lat.loadModule(testKernel(kernel)));
    // A batch the machine stalled past the 50 ms latency sends the size back down: run on until it is 5 again.
    for (let run = 0; run < 50 && unwatchedSteps > 0 && lat.batchSteps < 5; run++) await lat.run({ steps: unwatchedSteps });
    expect(lat.batchSteps).toBe(unwatchedSteps > 0 ? 5 : 1);
    const events = await watch(lat, 2000, { everySteps: 20, differential: { cells: 64, seed: 5 } });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(lat.kernelName).toBe('reference');
  });

  it('WrongOnOddBatches is rolled back where its only odd batch is the shorter one that ends each interval', async () => {
    // Batches of 8 between snapshots every 21 steps: 8, 8 and then 5, which ends the interval at a snapshot
    // step (after a delayed probe's one-step call: 1, 8, 8, 4). Only a probe that runs a batch of 21 mod 8
    // steps checks a call this kernel gets wrong; the live batch and the one-step call are right.
    const lat = lattice([32, 30], 'random', 'f64', 8);
    await lat.swap('step', await lat.loadModule(testKernel('WrongOnOddBatches')));
    const events = await watch(lat, 2000, { everySteps: 21, differential: { cells: 64, seed: 5 } });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ reason: 'differential', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(lat.kernelName).toBe('reference');
  });

  it('a run in batches ends where one step per call ends, bit for bit, and lat.step(n) too', async () => {
    const batched = lattice([40, 36], 'random', 'f64', 8);
    const single = new Lattice({ extents: [40, 36], dt: 0.6, threads: 2, batchLatencyMs: 1e-6 });
    lattices.push(single);
    const state = randomState(single, 3);
    single.setState(state.previous, state.current);
    const rows = kernelModulePath('rows');
    await batched.swap('step', await batched.loadModule(rows));
    await single.swap('step', await single.loadModule(rows));
    await batched.run({ steps: 333, watchdog: { everySteps: 50 } });
    await single.run({ steps: 333, watchdog: { everySteps: 50 } });
    expect(batched.stepCount).toBe(333);
    expect(single.stepCount).toBe(333);
    expect(batched.batchSteps).toBe(8);
    expect(single.batchSteps).toBe(1);
    expect(batched.profile().step.calls).toBeLessThan(single.profile().step.calls);
    expect(Buffer.from(batched.field().buffer).equals(Buffer.from(single.field().buffer))).toBe(true);
    expect(Buffer.from(batched.previousField().buffer).equals(Buffer.from(single.previousField().buffer))).toBe(true);

    // step(n) in calls of at most 8 steps against n one-step calls.
    batched.resetProfile();
    batched.step(21);
    for (let i = 0; i < 21; i++) single.step(1);
    expect(batched.profile().step).toMatchObject({ calls: 3, steps: 21 });
    expect(batched.stepCount).toBe(354);
    expect(Buffer.from(batched.field().buffer).equals(Buffer.from(single.field().buffer))).toBe(true);
  });

  it('refuses batch options out of range, naming the key and the limit', () => {
    expect(() => new Lattice({ extents: [8, 8], dt: 0.5, maxBatchSteps: 0 })).toThrow(/maxBatchSteps/);
    expect(() => new Lattice({ extents: [8, 8], dt: 0.5, maxBatchSteps: 5000 })).toThrow(/maxBatchSteps = 5000/);
    expect(() => new Lattice({ extents: [8, 8], dt: 0.5, batchLatencyMs: 0 })).toThrow(/batchLatencyMs/);
    expect(() => new Lattice({ extents: [8, 8], dt: 0.5, batchLatencyMs: 60_000 })).toThrow(/batchLatencyMs = 60000: must be at most 10000 ms/);
  });
});

describe('correct kernels', () => {
  it.each([
    ['reference', 'f64'],
    ['rows', 'f64'],
    ['reference', 'f32'],
    ['rows', 'f32'],
  ] as const)('%s (%s) passes every differential check over the whole lattice, 3-D included', async (kernel, precision) => {
    for (const extents of [
      [40, 36],
      [9, 8, 7],
    ]) {
      const lat = lattice(extents, 'random', precision);
      await lat.swap('step', await lat.loadModule(kernelModulePath(kernel)));
      expect(await watch(lat, 400, { everySteps: 7, differential: { cells: 'all', seed: 2 } })).toEqual([]);
    }
  });
});

describe('the comparison and the draw', () => {
  it('draws distinct cells in order, afresh each time, and every cell when asked for as many', () => {
    const random = seededRandom(4);
    const first = drawProbeCells(1000, 50, random);
    const second = drawProbeCells(1000, 50, random);
    expect(new Set(first).size).toBe(50);
    expect([...first]).toEqual([...first].sort((a, b) => a - b));
    expect([...first]).not.toEqual([...second]);
    expect([...drawProbeCells(5, 9, random)]).toEqual([0, 1, 2, 3, 4]);
  });

  it("allows 4 ulps of each cell's own scale, matches NaN with NaN and infinities exactly", () => {
    const cells = Float64Array.of(3, 8);
    const ulp = Number.EPSILON * 2;
    expect(compareProbe(cells, [2 + 4 * ulp, 1], [2, 1], [2, 1], 'f64')).toBeNull();
    expect(compareProbe(cells, [2 + 6 * ulp, 1], [2, 1], [2, 1], 'f64')).toMatchObject({ cells: 1, firstCell: 3 });
    // 3 ulps of the peak at a cell whose own scale is 1e-9: the peak's scale does not cover it.
    expect(compareProbe(cells, [2, 1e-9 + 3 * ulp], [2, 1e-9], [2, 1e-9], 'f64')).toMatchObject({ cells: 1, firstCell: 8 });
    expect(compareProbe(cells, [2, 1e-9 + 3 * ulp], [2, 1e-9], [2, 2], 'f64')).toBeNull();
    expect(compareProbe(cells, [NaN, Infinity], [NaN, Infinity], [0, 0], 'f64')).toBeNull();
    expect(compareProbe(cells, [1, -Infinity], [1, Infinity], [0, 0], 'f64')).toMatchObject({ firstCell: 8 });
    expect(compareProbe(cells, [0, 1], [NaN, 1], [0, 0], 'f64')).toMatchObject({ firstCell: 3 });
  });

  it("scales the tolerance by the oracle's terms, not by a result they cancel down to", () => {
    // A standing wave near a node: u^{n+1} = 2u - u_prev + r2 * (...) adds terms near 1 into a value near 1e-3.
    const extents = [16];
    const cells = Float64Array.of(5);
    const previous = Float64Array.from({ length: 16 }, (_, i) => Math.cos((2 * Math.PI * i) / 16));
    const current = Float64Array.from(previous, (value) => value * 0.5);
    const oracle = oracleAddon();
    const expected = oracle.stepAtCellsF64(previous, current, extents, 0.01, 1, cells);
    const scales = oracle.cellsConeScalesF64(previous, current, extents, 0.01, 1, cells);
    // Cell 5's cone (cells 4..6, the previous level the larger) peaks at |cos(2 pi 6 / 16)|: its scale, times 3 + 4 * 0.01.
    expect(scales[0]).toBe(Math.max(...[4, 5, 6].map((i) => Math.abs(previous[i]!))) * (3 + 4 * 0.01));
    expect(scales[0]).toBeGreaterThan(100 * Math.abs(expected[0]!));
    // Off by 3 ulps of the terms, as a kernel summing in another order can be: kept with the cone's scale, and only with it.
    const reordered = [expected[0]! + 3 * Number.EPSILON * scales[0]!];
    expect(compareProbe(cells, reordered, expected, scales, 'f64')).toBeNull();
    expect(compareProbe(cells, reordered, expected, [0], 'f64')).toMatchObject({ cells: 1 });
    // A step not taken is still refused.
    expect(compareProbe(cells, [current[5]!], expected, scales, 'f64')).toMatchObject({ cells: 1 });
  });

  it('refuses malformed differential options, naming the parameter', () => {
    const lat = lattice([8, 8], 'random');
    expect(() => lat.run({ watchdog: { everySteps: 5, differential: { cells: 0 } } })).toThrow(/watchdog\.differential\.cells = 0/);
    expect(() => lat.run({ watchdog: { everySteps: 5, differential: { everySnapshots: 1.5 } } })).toThrow(/watchdog\.differential\.everySnapshots/);
  });
});
