import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { kernelModulePath } from '../dist/native/loader.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { sameBits } from './helpers/bits.js';
import { until } from './helpers/until.js';

const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function seeded(extents = [48, 40], seed = 7, precision: 'f64' | 'f32' = 'f64') {
  const lat = new Lattice({ extents, dt: 0.6, threads: 2, precision });
  lattices.push(lat);
  const state = randomState(lat, seed);
  lat.setState(state.previous, state.current);
  return lat;
}

describe('the runner', () => {
  it('runs a step budget on its own thread and ends exactly there, equal to lat.step(n)', async () => {
    const running = seeded();
    const stepped = seeded();
    const summary = await running.run({ steps: 500 });
    expect(summary).toMatchObject({ startStep: 0, endStep: 500, stepsRun: 500, error: null });
    stepped.step(500);
    expect(running.stepCount).toBe(500);
    expect(sameBits(running.field() as Float64Array, stepped.field() as Float64Array)).toBe(true);
  });

  it('refuses step() while running, serves field()/energy()/readout() at boundaries, pauses and stops', async () => {
    const lat = seeded();
    const run = lat.run();
    expect(lat.running).toBe(true);
    expect(() => lat.step(1)).toThrow(/cannot run while the lattice is running on its own thread: await lat.stop\(\) first/);
    expect(Number.isFinite(lat.energy())).toBe(true);
    expect(lat.readout()).toHaveLength(lat.cells);
    lat.pause();
    lat.field(); // served at a boundary, after which the runner holds
    const held = lat.stepCount;
    // A runner that went on stepping would step between any two of these requests, each served at a boundary
    // while it holds; counted in requests, not waited for in time, so a busy machine changes nothing.
    for (let i = 0; i < 50; i += 1) {
      lat.field();
      expect(lat.stepCount).toBe(held);
    }
    expect(lat.paused).toBe(true);
    lat.resume();
    const summary = await lat.stop();
    expect(summary).toBe(await run);
    expect(summary!.endStep).toBe(lat.stepCount);
    expect(lat.running).toBe(false);
    lat.step(1);
  });

  it('checks invariants while running on levels and a readout of one step, and leaves the run as it found it', async () => {
    const lat = seeded([96, 80]);
    const run = lat.run();
    for (let i = 0; i < 20; i += 1) {
      const report = lat.checkInvariants({ wrapProbe: false });
      expect(report.violations).toEqual([]);
      expect(report.readoutMatchesOracle).toBe(true);
    }
    expect(lat.paused).toBe(false);
    // The run goes on after the check: wait for its next step (the test's timeout bounds the wait).
    const before = lat.stepCount;
    await until(() => lat.stepCount !== before, 5);
    expect(lat.stepCount).toBeGreaterThan(before);
    // A pause of the caller's own outlasts the check.
    lat.pause();
    expect(lat.checkInvariants({ wrapProbe: false }).readoutMatchesOracle).toBe(true);
    expect(lat.paused).toBe(true);
    lat.resume();
    await lat.stop();
    await run;
  });

  it('validates run options, naming the parameter', () => {
    const lat = seeded();
    expect(() => lat.run({ steps: -1 })).toThrow('steps = -1: must be an integer in [0, 281474976710656]');
    expect(() => lat.run({ watchdog: { everySteps: 0 } })).toThrow('watchdog.everySteps = 0: must be an integer in [1,');
    expect(() => lat.swap('stepper' as 'step', 1)).toThrow('slot = "stepper": must be "step" or "readout"');
    expect(() => lat.swap('step', 99)).toThrow(/moduleId = 99: is not a module loaded by this lattice's loadModule\(\)/);
  });
});

describe('hot swap', () => {
  it('1,000 swaps between bitwise-identical kernels during a run leave the state bitwise equal to a run without swaps', async () => {
    const swapped = seeded();
    const plain = seeded();
    const reference = await swapped.loadModule(kernelModulePath('reference'));
    const twin = await swapped.loadModule(kernelModulePath('reference_twin'));
    expect(twin).not.toBe(reference);
    // The run has no step budget: with one, a loaded machine could spend it before the thousandth swap.
    const run = swapped.run();
    let swaps = 0;
    const applied: number[] = [];
    while (swaps < 1000) {
      const result = await swapped.swap('step', swaps % 2 === 0 ? twin : reference);
      if (!result.firstStepRan) break;
      applied.push(result.appliedAtStep);
      swaps++;
    }
    const stopped = await swapped.stop();
    const summary = await run;
    expect(swaps).toBe(1000);
    expect(stopped?.endStep).toBe(summary.endStep);
    const steps = summary.endStep;
    expect(steps).toBeGreaterThan(applied.at(-1)!);
    // Each swap took effect at its own boundary, in order.
    for (let i = 1; i < applied.length; i++) expect(applied[i]).toBeGreaterThan(applied[i - 1]!);
    plain.step(steps);
    expect(sameBits(swapped.field() as Float64Array, plain.field() as Float64Array)).toBe(true);
    expect(sameBits(swapped.previousField() as Float64Array, plain.previousField() as Float64Array)).toBe(true);
  });

  it('a different but correct kernel (rows) keeps the energy drift within 1e-12', async () => {
    const lat = seeded([64, 64], 3);
    const rows = await lat.loadModule(kernelModulePath('rows'));
    const initial = lat.energy();
    const run = lat.run();
    const result = await lat.swap('step', rows);
    expect(result).toMatchObject({ slot: 'step', fromName: 'reference', toName: 'rows', firstStepRan: true });
    await lat.stop();
    await run;
    expect(lat.kernelName).toBe('rows');
    expect(Math.abs(lat.energy() - initial) / initial).toBeLessThanOrEqual(1e-12);
  });

  it('rollback returns to last-known-good at the next boundary', async () => {
    const lat = seeded();
    const rows = await lat.loadModule(kernelModulePath('rows'));
    const run = lat.run();
    await lat.swap('step', rows);
    expect(lat.slots().step).toMatchObject({ live: { name: 'rows' }, lastKnownGood: { name: 'reference' } });
    const back = await lat.rollback('step');
    expect(back).toMatchObject({ fromName: 'rows', toName: 'reference', firstStepRan: true });
    expect(lat.kernelName).toBe('reference');
    await lat.stop();
    await run;
  });

  it('loading the same bytes twice gives the same module; the copy is content-addressed', async () => {
    const lat = seeded();
    const first = await lat.loadModule(kernelModulePath('rows'));
    const again = await lat.loadModule(kernelModulePath('rows'));
    expect(again).toBe(first);
    const info = lat.moduleInfo(first);
    expect(info.path.endsWith(`${info.sha256}.so`)).toBe(true);
    expect(info.loadMs).toBeGreaterThan(0);
  });
});

describe('canary', () => {
  it('compares candidate and incumbent on copies without touching the live state', async () => {
    const lat = seeded([64, 64], 5);
    lat.step(10);
    const before = lat.field() as Float64Array;
    const twin = await lat.loadModule(kernelModulePath('reference_twin'));
    const rows = await lat.loadModule(kernelModulePath('rows'));
    const same = await lat.canary('step', twin, { steps: 200 });
    expect(same).toMatchObject({ slot: 'step', startStep: 10, steps: 200, incumbent: 'reference', candidate: 'reference-twin' });
    expect(same.maxAbsDifference).toBe(0);
    expect(same.candidateEnergy).toBe(same.incumbentEnergy);
    const close = await lat.canary('step', rows, { steps: 200 });
    expect(close.maxAbsDifference).toBeGreaterThan(0);
    expect(close.maxAbsDifference).toBeLessThan(1e-10);
    expect(Math.abs(close.candidateEnergy - close.incumbentEnergy) / close.incumbentEnergy).toBeLessThan(1e-12);
    expect(lat.stepCount).toBe(10);
    expect(sameBits(lat.field() as Float64Array, before)).toBe(true);
    expect(lat.kernelName).toBe('reference');
  });

  it('ends before its next kernel call when its signal aborts, and rejects with the reason', async () => {
    const lat = seeded();
    const twin = await lat.loadModule(kernelModulePath('reference_twin'));
    const controller = new AbortController();
    // More steps than any test would wait for (days at this size): only the abort can end it.
    const endless = lat.canary('step', twin, { steps: 2 ** 48, signal: controller.signal });
    controller.abort(new Error('the engine stopped'));
    await expect(endless).rejects.toThrow('the engine stopped');
    // The abort ended that canary, not the lattice's later ones.
    const next = await lat.canary('step', twin, { steps: 20 });
    expect(next.maxAbsDifference).toBe(0);
  });

  it('ends when the lattice closes', async () => {
    const lat = seeded();
    const twin = await lat.loadModule(kernelModulePath('reference_twin'));
    const endless = lat.canary('step', twin, { steps: 2 ** 48 });
    lat.close();
    await expect(endless).rejects.toThrow(/^the canary was cancelled after \d+ of 281474976710656 steps$/);
  });

  it('runs while the lattice runs', async () => {
    const lat = seeded();
    const rows = await lat.loadModule(kernelModulePath('rows'));
    const run = lat.run();
    const report = await lat.canary('step', rows, { steps: 50 });
    expect(report.steps).toBe(50);
    expect(report.maxAbsDifference).toBeLessThan(1e-10);
    expect(lat.kernelName).toBe('reference');
    await lat.stop();
    await run;
  });
});

describe('watchdog', () => {
  const testKernel = (name: string) => `build/test-kernels/${name}.so`;

  async function watchedRollback(kernel: string, reason: WatchdogEvent['reason'], precision: 'f64' | 'f32' = 'f64') {
    const lat = seeded([32, 30], 11, precision);
    const plain = seeded([32, 30], 11, precision);
    const bad = await lat.loadModule(testKernel(kernel));
    // Before it misbehaves, each bad kernel is the reference kernel bit for bit.
    await lat.swap('step', bad);
    const events: WatchdogEvent[] = [];
    lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
    const steps = 3000;
    // The differential check would see these kernels first (tests/watchdog-differential.test.ts): off, to test the energy checks.
    const summary = await lat.run({ steps, watchdog: { everySteps: 25, differential: false } });
    expect(summary.endStep).toBe(steps);
    expect(events.length).toBeGreaterThanOrEqual(1);
    const [event] = events;
    expect(event).toMatchObject({ reason, slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(event!.restoredStep).not.toBeNull();
    expect(event!.restoredStep! % 25).toBe(0);
    expect(event!.restoredStep!).toBeLessThan(event!.checkedStep);
    expect(lat.kernelName).toBe('reference');
    // Restored from the last verified snapshot, then stepped on by the reference
    // kernel: bitwise the run that never met the bad kernel.
    plain.step(steps);
    expect(sameBits(lat.field(), plain.field())).toBe(true);
    return event!;
  }

  it('rolls back a kernel that produces NaN after some steps and restores the last verified state', async () => {
    const event = await watchedRollback('misbehaving_NanAfter', 'non-finite');
    expect(event.detail).toMatch(/non-finite value at cell 0/);
  });

  it('checks an f32 lattice on its snapshot widened to f64, and rolls back a NaN there too', async () => {
    const event = await watchedRollback('misbehaving_NanAfter', 'non-finite', 'f32');
    expect(event.detail).toMatch(/non-finite value at cell 0/);
  });

  it('rolls back a kernel that slowly pumps energy in', async () => {
    const event = await watchedRollback('misbehaving_PumpEnergy', 'energy-drift');
    expect(event.energyDrift).toBeGreaterThan(1e-9);
  });

  it('defers its checks while held, and checks and rolls back once the last hold is released', async () => {
    const lat = seeded([32, 30], 11);
    await lat.swap('step', await lat.loadModule(testKernel('misbehaving_PumpEnergy')));
    const events: WatchdogEvent[] = [];
    lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
    const outer = lat.holdWatchdogChecks();
    const inner = lat.holdWatchdogChecks();
    const run = lat.run({ watchdog: { everySteps: 25, differential: false } });
    const stepsPast = async (step: number) => {
      await until(() => lat.stepCount >= step, 2);
    };
    await stepsPast(1000);
    inner();
    inner();
    await stepsPast(2000);
    // Unheld, the check of the snapshot at step 25 would have rolled it back.
    expect(events).toEqual([]);
    expect(lat.kernelName).toBe('misbehaving');
    const releasedAt = lat.stepCount;
    outer();
    await until(() => events.length > 0, 2);
    await lat.stop();
    await run;
    // The deferred check passed the run's first snapshot; the next one failed and restored it.
    expect(events[0]).toMatchObject({ reason: 'energy-drift', restoredStep: 0, rolledBackFrom: 'misbehaving', rolledBackTo: 'reference' });
    expect(events[0]!.checkedStep).toBeGreaterThanOrEqual(releasedAt);
    expect(lat.kernelName).toBe('reference');
  });
});

describe('profiler', () => {
  it('finds a slow readout called often as the bottleneck by total share, not mean', async () => {
    // 2000 steps in one call: step(n) calls the kernel with at most maxBatchSteps steps.
    const lat = new Lattice({ extents: [32, 32], dt: 0.6, threads: 2, maxBatchSteps: 2000 });
    lattices.push(lat);
    const state = randomState(lat, 2);
    lat.setState(state.previous, state.current);
    const slow = await lat.loadModule('build/test-kernels/misbehaving_SlowReadout.so');
    await lat.swap('readout', slow);
    lat.resetProfile();
    lat.step(2000);
    for (let i = 0; i < 40; i++) lat.readout();
    const profile = lat.profile();
    expect(profile.step).toMatchObject({ calls: 1, steps: 2000 });
    expect(profile.readout.calls).toBe(40);
    // The one step call is far longer than any readout call...
    expect(profile.step.meanNs).toBeGreaterThan(profile.readout.meanNs);
    // ...but the readout slot takes most of the time.
    expect(lat.bottleneck()).toMatchObject({ slot: 'readout' });
    expect(profile.readout.share + profile.step.share).toBeCloseTo(1, 12);
    expect(profile.readout.p50Ns).toBeGreaterThan(0);
  });

  it('finds the step slot when readouts are rare', () => {
    const lat = seeded([32, 32], 2);
    lat.resetProfile();
    expect(lat.bottleneck()).toBeNull();
    lat.step(200);
    lat.readout();
    expect(lat.bottleneck()).toMatchObject({ slot: 'step' });
  });
});
