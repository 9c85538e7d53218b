// A kernel that leaves the FP environment changed (flush-to-zero,
// denormals-are-zero, round toward zero, an unmasked exception, x87
// precision) is loaded live: the core restores the environment after every
// call, so the host's arithmetic is intact, and counts it, so the watchdog
// rolls the kernel back.
import { afterEach, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { oracleAddon } from '../dist/native/loader.js';
import { LiveChanges } from '../dist/ts/engine/live-changes.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';

const spoiler = 'build/test-kernels/misbehaving_SpoilFpEnvironment.so';
const lattices: Lattice[] = [];
afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

function seeded(): Lattice {
  const lat = new Lattice({ extents: [32, 30], dt: 0.6, threads: 2 });
  lattices.push(lat);
  const state = randomState(lat, 5);
  lat.setState(state.previous, state.current);
  return lat;
}

/** Values the JIT cannot fold, so that the arithmetic below runs after the kernel call. */
const runtime = (value: number) => Number(String(value));

/** Arithmetic each spoiled bit would change: FTZ/DAZ a subnormal, round-toward-zero 1/3, the unmasked exception 1/0. */
function hostArithmetic() {
  const subnormal = runtime(1e-310);
  return {
    halfSubnormal: subnormal * runtime(0.5),
    subnormalPlusZero: subnormal + runtime(0),
    third: runtime(1) / runtime(3),
    roundedUp: runtime(2 ** 53) + runtime(3),
    divideByZero: runtime(1) / runtime(0),
    oracleEnergy: oracleAddon().energy(Float64Array.of(0.1, 1e-310, 0.3), Float64Array.of(0.2, 0.7, 1e-310), [3], 1, 1, 0.5),
  };
}

describe('the FP environment a kernel leaves behind', () => {
  it('is restored after a step and a readout on the JS thread, and counted per slot', async () => {
    const before = hostArithmetic();
    expect(before.halfSubnormal).toBe(5e-311);
    expect(before.roundedUp).toBe(2 ** 53 + 4);
    const lat = seeded();
    const id = await lat.loadModule(spoiler);
    await lat.swap('step', id);
    await lat.swap('readout', id);
    lat.step(3);
    expect(hostArithmetic()).toEqual(before);
    lat.readout();
    expect(hostArithmetic()).toEqual(before);
    expect(lat.fpRestores()).toEqual({ step: 1, readout: 1 });
  });

  it('is reported by the watchdog, which rolls the kernel back, while the host computes on', async () => {
    const lat = seeded();
    const plain = seeded();
    await lat.swap('step', await lat.loadModule(spoiler));
    const events: WatchdogEvent[] = [];
    lat.on('watchdog', (event: WatchdogEvent) => events.push(event));
    const before = hostArithmetic();
    const summary = await lat.run({ steps: 300, watchdog: { everySteps: 25 } });
    expect(summary.error).toBeNull();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'fp-environment', slot: 'step', rolledBackFrom: 'misbehaving', rolledBackTo: 'reference', restoredStep: null });
    expect(events[0]!.detail).toMatch(/step kernel call\(s\) since the last check left the FP environment changed/);
    expect(lat.kernelName).toBe('reference');
    expect(hostArithmetic()).toEqual(before);
    // The spoiler steps bit for bit as the reference does: with no verified snapshot to go back to, the run went on to the same state.
    plain.step(300);
    expect(Buffer.compare(Buffer.from((lat.field() as Float64Array).buffer), Buffer.from((plain.field() as Float64Array).buffer))).toBe(0);
  });

  it('is counted for a canary candidate, not for the live slot', async () => {
    const lat = seeded();
    const report = await lat.canary('step', await lat.loadModule(spoiler), { steps: 4 });
    // One per call: the canary calls kernels as the runner does, here (never run, batch size 1) four calls of one step.
    expect(lat.batchSteps).toBe(1);
    expect(report.candidateFpRestores).toBe(4);
    expect(report.maxAbsDifference).toBe(0);
    expect(lat.fpRestores()).toEqual({ step: 0, readout: 0 });
  });

  it("is refused by the engine's canary even though its field agrees with the incumbent's", async () => {
    const lat = seeded();
    const ledger = {
      append: () => {
        throw new Error('nothing may reach the ledger');
      },
    };
    const settings = {
      canarySteps: 4,
      canaryTolerance: 1e-9,
      watchWindowMs: 100,
      watchMinSteps: 5,
      maxDegradation: 0.5,
      driftTolerance: 1e-9,
      trialWindowMs: 100,
      trialMinSteps: 3,
      trialMaxPairs: 4,
      trialMinGain: 0.03,
      trialMaxSlowerLiveMs: 400,
    };
    const live = new LiveChanges(lat, ledger as never, settings, { phase() {}, applied() {}, rolledBack() {}, incumbentLost() {} });
    const base = lat.slots().step.live;
    live.adopt({ slot: 'step', attemptId: 0, moduleId: base.id, modulePath: base.path, moduleSha256: '', speedup: 1 });
    const outcome = await live.change({
      slot: 'step',
      attemptId: 1,
      modulePath: spoiler,
      speedup: 2,
      action: 'apply',
      reason: 'test',
      speedJudge: { by: 'benchmark', judgedAgainst: 0 },
      trusted: true,
    });
    live.dispose();
    expect(outcome).toMatchObject({ status: 'failed', failure: 'canary' });
    expect(outcome.reason).toBe("canary: 4 of the candidate's calls left the FP environment (MXCSR or the x87 control word) changed");
    expect(lat.slots().step.live.id).toBe(base.id);
  });
});
