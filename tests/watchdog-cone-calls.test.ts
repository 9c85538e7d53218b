// The cone checks' oracle calls against a core and an oracle of the test's
// own: at most two calls are out, the probes due meanwhile wait (the next
// batch in the watchdog, the rest in the core) and go as each call settles;
// the gathers of extras the runner dropped are counted in the probes' cost
// and against the share. The clocks, the CPU times and the oracle's answers
// are injected: nothing here is timed.
import { describe, expect, it } from 'vitest';
import type { CoreConeProbe, CoreWatchdogCounters } from '../dist/native/addon-types.js';
import type { ConeGroupInput, SteppedCones } from '../dist/ts/generated/oracle-napi.js';
import { ConeChecks, type ConeCore } from '../dist/ts/lattice/cone-checks.js';
import { resolveCadence, resolveDifferential } from '../dist/ts/lattice/watchdog.js';

const EVERY_STEPS = 10;

/** A core whose probes the test announces, its take rates and settled steps recorded. */
class ScriptedCore implements ConeCore {
  stepCount = 0;
  readonly announced: CoreConeProbe[] = [];
  readonly settled: number[] = [];
  readonly takeRates: number[] = [];
  extraDropNs = 0;

  announce(step: number, extra = false): void {
    this.announced.push({ step, steps: 1, radius: 1, cells: new Float64Array([step % 256]), values: new Float64Array([1]), gatherNs: 100_000, extra });
  }
  takeConeProbe(): CoreConeProbe | null {
    return this.announced.shift() ?? null;
  }
  settleConeProbe(step: number): void {
    this.settled.push(step);
  }
  armConeProbe(): void {}
  setConeTakeRate(cellsPerStep: number): void {
    this.takeRates.push(cellsPerStep);
  }
  watchdogCounters(): CoreWatchdogCounters {
    return {
      snapshots: 0,
      captureNs: 0,
      snapshotProbeNs: 0,
      coneProbes: 0,
      coneSkips: 0,
      coneGatherNs: 0,
      coneBoundaries: 0,
      coneGatheredValues: 0,
      coneExtras: 0,
      coneExtraDrops: 0,
      coneCellsHanded: 0,
      coneExtraDropNs: this.extraDropNs,
      coneBatchCap: null,
    };
  }
}

/** An oracle call the test answers: every probe's value agrees. */
interface HeldCall {
  groups: ConeGroupInput[];
  answer(): void;
}

function scripted() {
  const core = new ScriptedCore();
  const calls: HeldCall[] = [];
  let nowMs = 0;
  let cpuNs = 0;
  const plan = resolveDifferential({ cells: 16, seed: 1, fullCheckEveryMs: 0, coneEverySteps: EVERY_STEPS }, 256, EVERY_STEPS)!;
  const cadence = resolveCadence({ everySteps: EVERY_STEPS, maxCostShare: 0.01, now: () => nowMs }, EVERY_STEPS, 1);
  const physics = { extents: [16, 16], c: 1, h: 1, dt: 0.6, courant2: 0.36, precision: 'f64' as const };
  const rollbacks: string[] = [];
  const hooks = { rollbacks: () => 0, rollBack: (detail: string) => rollbacks.push(detail), noteCheck: () => {} };
  const checks = new ConeChecks(core, physics, plan, cadence, () => nowMs, hooks, {
    stepConeGroups: (_older, _newer, _dims, groups) =>
      new Promise<SteppedCones>((resolve) => {
        const cells = groups.reduce((sum, group) => sum + group.count, 0);
        // 1 ms of the oracle's CPU a call.
        calls.push({ groups, answer: () => resolve({ values: new Float64Array(cells).fill(1), scales: new Float64Array(cells).fill(1), cpuNs: 1e6 }) });
      }),
    // Each reading of the JS thread's CPU clock 0.1 ms on.
    threadCpuNs: () => (cpuNs += 100_000),
  });
  /** The run moves on to `step`, 100 ms a step. */
  const advance = (step: number) => {
    nowMs += 100 * (step - core.stepCount);
    core.stepCount = step;
  };
  return { core, calls, checks, rollbacks, advance };
}

/** Lets the settled calls' continuations run (no time passes). */
const drained = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the cone checks while two oracle calls are out', () => {
  it('hold the next batch and leave the rest in the core, and send them as each call settles', async () => {
    const { core, calls, checks, rollbacks, advance } = scripted();
    // Plan probes: each is a batch due at once, one call each.
    core.announce(0);
    checks.check();
    advance(5);
    core.announce(5);
    checks.check();
    expect(calls).toHaveLength(2);
    // Two out: the next probe is taken into the pending batch, the one after stays in the core, and no call starts.
    advance(15);
    core.announce(10);
    core.announce(15);
    checks.check();
    expect(calls).toHaveLength(2);
    expect(core.announced.map((probe) => probe.step)).toEqual([15]);
    expect(core.settled).toEqual([]);
    // The first call settles: its probe's slot is the runner's again, the held batch goes, and the probe left in the core
    // is taken (and held: two are out again).
    calls[0]!.answer();
    await drained();
    expect(core.settled).toEqual([0]);
    expect(calls).toHaveLength(3);
    expect(calls[2]!.groups).toEqual([{ count: 1, radius: 1, steps: 1 }]);
    expect(core.announced).toEqual([]);
    calls[1]!.answer();
    await drained();
    expect(calls).toHaveLength(4);
    calls[2]!.answer();
    calls[3]!.answer();
    await checks.settled();
    expect([...core.settled].sort((a, b) => a - b)).toEqual([0, 5, 10, 15]);
    expect(checks.stats).toMatchObject({ checked: 4, calls: 4, extras: 0, cellsChecked: 4 });
    expect(rollbacks).toEqual([]);
  });
});

describe('the gathers of dropped extras', () => {
  it("are counted in the cone probes' cost and lower the take rate", async () => {
    const takeRateAfterCalls = async (droppedNs: number) => {
      const { core, calls, checks, advance } = scripted();
      for (let i = 0; i < 3; i++) {
        advance(10 * i);
        core.announce(10 * i);
        checks.check();
        // The runner dropped extras' gathers while the call was out.
        core.extraDropNs += droppedNs;
        calls[i]!.answer();
        await drained();
      }
      await checks.settled();
      return { rate: core.takeRates.at(-1)!, stats: checks.stats };
    };
    const kept = await takeRateAfterCalls(0);
    const dropped = await takeRateAfterCalls(2e6);
    expect(kept.stats.droppedGatherNs).toBe(0);
    expect(dropped.stats.droppedGatherNs).toBe(6e6);
    expect(kept.rate).toBeGreaterThan(0);
    // Each call cost 1.4 ms (gather 0.1, JS thread 0.3, oracle 1), and 2 ms of dropped gathers beside it: the level of
    // the fit rises by (1.4 + 2) / 1.4, and the cells a step it buys, the plans' 0.1 among them, fall by as much.
    expect(dropped.rate + 0.1).toBeCloseTo(((kept.rate + 0.1) * 1.4) / 3.4, 6);
  });
});
