// The economy: what the search costs the live job against what the next
// attempt can win, driven with a synthetic clock, synthetic costs and
// synthetic gains; no lattice, no benchmark.
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunProgress } from '../dist/ts/cli/run-progress.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import type { CandidateProposal, GenerationContext, Generator } from '../dist/ts/generators/types.js';
import {
  CONCURRENT_GAIN_RATIO,
  ceilingOf,
  Economy,
  rooflineBinds,
  type EconomyOptions,
  type EconomyTransition,
  type EconomyView,
} from '../dist/ts/engine/economy.js';
import { inCacheLatticeExtents, measureInCacheMlups } from '../dist/ts/engine/in-cache-ceiling.js';
import { kernelModulePath } from '../dist/native/loader.js';
import { Archive } from '../dist/ts/archive/archive.js';
import { machineFingerprint } from '../dist/ts/archive/fingerprint.js';
import { CARRIED_ATTEMPTS } from '../dist/ts/engine/attempt-costs.js';
import { ConvergenceWatch, LIVE_RATE_DROP, convergenceMismatch, convergenceToKeep, figuresOf } from '../dist/ts/engine/convergence.js';
import { fileSha256 } from '../dist/ts/engine/live-changes.js';
import { Predictor } from '../dist/ts/engine/predictor.js';
import { type SummaryInputs, summarise } from '../dist/ts/engine/summary.js';
import { RunAccount } from '../dist/ts/engine/run-account.js';
import type { EngineSample } from '../dist/ts/engine/events.js';
import type { ConvergenceRecord, LedgerEntry } from '../dist/ts/archive/types.js';

class Clock {
  ms = 0;
  now = () => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

function economy(clock: Clock, options: Partial<EconomyOptions> = {}) {
  const transitions: EconomyTransition[] = [];
  const made = new Economy(
    {
      now: clock.now,
      maxDegradation: 0.05,
      childCpuCost: 2,
      cores: 2,
      horizonSeconds: 600,
      maxConcurrent: 3,
      intervalMs: 2000,
      priorAttemptCostSeconds: 10,
      ...options,
    },
    (transition) => transitions.push(transition),
  );
  return { economy: made, transitions };
}

function view(fields: Partial<EconomyView> = {}): EconomyView {
  return {
    readings: { heldSeconds: 0, childCpuSeconds: 0 },
    remainingSeconds: 180,
    expectedImprovement: null,
    liveMlups: 500,
    rooflineMlups: 1300,
    inCacheMlups: null,
    ...fields,
  };
}

describe('Economy costs', () => {
  it('charges held time whole, child CPU at its rate beyond what the held work used, and trial losses as given', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    // 10 s held on 2 cores: up to 20 CPU-seconds of children are the held work's own; 5 more cost 2 s each.
    expect(e.costSeconds({ heldSeconds: 10, childCpuSeconds: 25 })).toBe(20);
    expect(e.costSeconds({ heldSeconds: 0, childCpuSeconds: 3 })).toBe(6);
    e.chargeTrialLoss(1.5);
    e.chargeTrialLoss(-4);
    e.chargeTrialLoss(Number.NaN);
    expect(e.costSeconds({ heldSeconds: 0, childCpuSeconds: 3 })).toBe(7.5);
  });

  it('values a win as its speedup, capped by the ceiling, over the remaining time less an attempt', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    // e^0.1 - 1 = 10.5% faster for 180 s.
    expect(e.expectedGainSeconds(view({ expectedImprovement: 0.1 }))).toBeCloseTo(Math.expm1(0.1) * 180, 9);
    // 1200 MLUPS live under a 1300 ceiling: at most 1/12 faster, whatever the predictor hopes.
    expect(e.expectedGainSeconds(view({ expectedImprovement: 1, liveMlups: 1200 }))).toBeCloseTo((1300 / 1200 - 1) * 180, 9);
    expect(e.expectedGainSeconds(view({ expectedImprovement: 1, liveMlups: 1400 }))).toBe(0);
    // No known end: the horizon, or as long again as the run has gone.
    expect(e.expectedGainSeconds(view({ expectedImprovement: 0.1, remainingSeconds: null }))).toBeCloseTo(Math.expm1(0.1) * 600, 9);
    clock.advance(1000);
    expect(e.expectedGainSeconds(view({ expectedImprovement: 0.1, remainingSeconds: null }))).toBeCloseTo(Math.expm1(0.1) * 1000, 9);
    // An attempt that takes 30 s wins only on what is left after it.
    e.attemptStarted();
    e.attemptFinished(30);
    expect(e.expectedGainSeconds(view({ expectedImprovement: 0.1 }))).toBeCloseTo(Math.expm1(0.1) * 150, 9);
    expect(e.expectedGainSeconds(view({ expectedImprovement: null }))).toBeNull();
  });
});

describe('Economy ceilings', () => {
  // Issue 16's temporally blocked kernel: 2697 MLUPS live at 4096^2 f64 under a 1812 MLUPS roofline of one sweep's memory.
  const blocked = { liveMlups: 2697, rooflineMlups: 1812 };

  it('bounds the gain by the larger of the roofline and the in-cache rate', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    expect(ceilingOf({ rooflineMlups: 1812, inCacheMlups: 4000 })).toEqual({ kind: 'in-cache', mlups: 4000 });
    expect(ceilingOf({ rooflineMlups: 1812, inCacheMlups: 1500 })).toEqual({ kind: 'roofline', mlups: 1812 });
    expect(ceilingOf({ rooflineMlups: null, inCacheMlups: 1500 })).toEqual({ kind: 'in-cache', mlups: 1500 });
    expect(ceilingOf({ rooflineMlups: null, inCacheMlups: null })).toBeNull();
    // Above the roofline, the in-cache rate still leaves 4000 / 2697 - 1 = 48% of headroom.
    expect(e.expectedGainSeconds(view({ ...blocked, expectedImprovement: 1, inCacheMlups: 4000 }))).toBeCloseTo((4000 / 2697 - 1) * 180, 9);
    expect(e.expectedGainSeconds(view({ ...blocked, expectedImprovement: 0.1, inCacheMlups: 4000 }))).toBeCloseTo(Math.expm1(0.1) * 180, 9);
    // An in-cache rate below the roofline (a memory-bound kernel measured on a busy machine) does not lower the roofline's bound.
    expect(e.expectedGainSeconds(view({ expectedImprovement: 1, liveMlups: 1200, inCacheMlups: 1250 }))).toBeCloseTo((1300 / 1200 - 1) * 180, 9);
  });

  it('keeps searching above the roofline while the in-cache ceiling leaves a gain that pays, and says which ceiling bounds it', () => {
    const clock = new Clock();
    const withInCache = economy(clock);
    const rooflineOnly = economy(clock);
    for (const { economy: e } of [withInCache, rooflineOnly]) {
      e.attemptStarted();
      clock.advance(20);
      e.attemptFinished(20);
    }
    // One attempt cost 8 lattice-seconds; the predictor hopes for 20% over the next 160 s.
    const hopes = { ...blocked, readings: { heldSeconds: 0, childCpuSeconds: 4 }, expectedImprovement: Math.log1p(0.2) };
    expect(withInCache.economy.decide(view({ ...hopes, inCacheMlups: 4000 })).state).toBe('searching');
    expect(withInCache.transitions).toEqual([]);
    expect(withInCache.economy.report().ceiling).toEqual({ kind: 'in-cache', mlups: 4000 });
    // With the roofline as the only ceiling the live kernel is already above it: no headroom, backed off.
    expect(rooflineOnly.economy.decide(view({ ...hopes, inCacheMlups: null })).state).toBe('backed-off');
    expect(rooflineOnly.transitions[0]!.reason).toBe(
      'the next attempt is expected to win 0.0 lattice-seconds (under the roofline ceiling of 1812 MLUPS) and costs 8.0 (measured over 1 attempt of this run)',
    );
  });

  it('is worth measuring only when the roofline bounds what the search hopes for', () => {
    const at = (liveMlups: number | null, expectedImprovement: number | null, rooflineMlups: number | null = 1812) =>
      rooflineBinds({ liveMlups, expectedImprovement, rooflineMlups });
    // The reference far below the roofline: its headroom covers any hope.
    expect(at(80, Math.log(10))).toBe(false);
    // At or above it: bound whatever the hope, known or not.
    expect(at(2697, null)).toBe(true);
    expect(at(1812, 0.01)).toBe(true);
    // Below it, bound when the hope is larger than the headroom (1812 / 1500 - 1 = 20.8%).
    expect(at(1500, Math.log1p(0.25))).toBe(true);
    expect(at(1500, Math.log1p(0.15))).toBe(false);
    expect(at(1500, null)).toBe(false);
    expect(at(null, 1)).toBe(false);
    expect(at(1500, 1, null)).toBe(false);
  });

  it('is not worth measuring when even the hope it would bound does not pay for an attempt', () => {
    const clock = new Clock();
    // bench net's warm run: the remembered kernel live at the roofline, 11% hoped for, attempts carried at 45 s and 60 s each.
    const atRoofline = view({ liveMlups: 1300, expectedImprovement: Math.log1p(0.11) });
    expect(rooflineBinds(atRoofline)).toBe(true);
    const { economy: carried } = economy(clock, { carriedAttemptCost: { costSeconds: 45, wallSeconds: 60, attempts: 3 } });
    // 0.11 x (180 - 60) = 13.2 < 45 whatever the ceiling: holding the lattice to measure one buys nothing.
    expect(carried.ceilingCanMatter(atRoofline)).toBe(false);
    // A hope of 50% (60 s) would pay unbounded, and the ceiling decides; with no hope yet it may decide too.
    expect(carried.ceilingCanMatter({ ...atRoofline, expectedImprovement: Math.log1p(0.5) })).toBe(true);
    expect(carried.ceilingCanMatter({ ...atRoofline, expectedImprovement: null })).toBe(true);
    // On the prior of 10 s the hope (19.8 s) pays unbounded: measured.
    expect(economy(clock).economy.ceilingCanMatter(atRoofline)).toBe(true);
  });

  it('measures on the lattice bench evolve reports inCacheMlups on, never larger than the live one', () => {
    // 1 MiB of L2: three f64 levels of 208 x 208.
    expect(inCacheLatticeExtents([4096, 4096], 'f64', 1 << 20)).toEqual([208, 208]);
    expect(inCacheLatticeExtents([100, 4096], 'f64', 1 << 20)).toEqual([100, 208]);
  });

  it('measures a step module on the small lattice', async () => {
    const settings = resolveConfig({ lattice: { extents: [4096, 4096] } }).lattice;
    let held = 0;
    const mlups = await measureInCacheMlups(kernelModulePath('reference'), settings, 1, (work) => {
      held += 1;
      return work();
    });
    expect(held).toBe(1);
    expect(Number.isFinite(mlups) && mlups > 0).toBe(true);
  }, 60_000);
});

describe('Economy pacing', () => {
  it('never starves the first attempt: with no gain estimate it starts one at once, and only one', () => {
    const clock = new Clock();
    const { economy: e, transitions } = economy(clock);
    expect(e.decide(view())).toEqual({ state: 'searching', maxInFlight: 1, waitMs: 0 });
    e.attemptStarted();
    expect(e.decide(view()).waitMs).toBe(2000);
    // Still nothing passed after an expensive failure: the search goes on, one at a time.
    clock.advance(40);
    e.attemptFinished(40);
    expect(e.decide(view({ readings: { heldSeconds: 30, childCpuSeconds: 0 } }))).toEqual({ state: 'searching', maxInFlight: 1, waitMs: 0 });
    expect(transitions).toEqual([]);
  });

  it('runs attempts concurrently only while the gain is well above the cost', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    // Prior cost 10 s; 180 s x (e^g - 1) against it.
    const gainOf = (seconds: number) => Math.log1p(seconds / 180);
    expect(e.decide(view({ expectedImprovement: gainOf(CONCURRENT_GAIN_RATIO * 10 + 1) })).maxInFlight).toBe(3);
    expect(e.decide(view({ expectedImprovement: gainOf(15) })).maxInFlight).toBe(1);
    expect(e.state).toBe('searching');
  });

  it('backs off when the expected gain no longer pays for an attempt, and says why', () => {
    const clock = new Clock();
    const { economy: e, transitions } = economy(clock);
    e.attemptStarted();
    clock.advance(20);
    e.attemptFinished(20);
    // The attempt cost 4 CPU-seconds x 2; the next is expected to win 1% for 160 s: 1.6 s.
    const decision = e.decide(view({ readings: { heldSeconds: 0, childCpuSeconds: 4 }, expectedImprovement: Math.log1p(0.01) }));
    expect(decision.state).toBe('backed-off');
    expect(decision.maxInFlight).toBe(1);
    // The next start waits until its 8 s of cost is 5% of the time since backing off: 160 s.
    expect(decision.waitMs).toBeCloseTo(160_000, 6);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ state: 'backed-off', attemptCostSeconds: 8, costSeconds: 8 });
    expect(transitions[0]!.expectedGainSeconds).toBeCloseTo(1.6, 9);
    expect(transitions[0]!.reason).toBe(
      'the next attempt is expected to win 1.6 lattice-seconds (under the roofline ceiling of 1300 MLUPS) and costs 8.0 (measured over 1 attempt of this run)',
    );
    expect(e.report()).toMatchObject({ state: 'backed-off', backoffs: 1, resumes: 0, costSeconds: 8, attemptCostSeconds: 8, attemptSeconds: 20 });
  });

  it('backs off from the start when a remembered search already says the gain is small', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    const decision = e.decide(view({ expectedImprovement: 0.0001 }));
    expect(decision.state).toBe('backed-off');
    // The prior cost, 10 s, at 5%: the first attempt waits 200 s.
    expect(decision.waitMs).toBeCloseTo(200_000, 6);
  });

  it('resumes at once on a change, with one probing attempt, then judges again', () => {
    const clock = new Clock();
    const { economy: e, transitions } = economy(clock);
    const small = view({ expectedImprovement: 0.0001 });
    expect(e.decide(small).state).toBe('backed-off');
    clock.advance(5);
    e.change('a new step kernel is live');
    expect(transitions.at(-1)).toMatchObject({ state: 'searching', reason: 'resumed: a new step kernel is live' });
    expect(e.decide(small)).toEqual({ state: 'searching', maxInFlight: 1, waitMs: 0 });
    e.attemptStarted();
    // The probe is out; the gain is still small: backed off again, the probe's cost governed.
    expect(e.decide(small).state).toBe('backed-off');
    expect(e.report()).toMatchObject({ backoffs: 2, resumes: 1 });
    // A change while searching changes nothing.
    const { economy: searching, transitions: none } = economy(clock);
    searching.change('a new step kernel is live');
    expect(none).toEqual([]);
  });

  it('resumes when an ended attempt raises the expected gain above the cost', () => {
    const clock = new Clock();
    const { economy: e, transitions } = economy(clock);
    expect(e.decide(view({ expectedImprovement: 0.0001 })).state).toBe('backed-off');
    // The gain rises between attempts: nothing is judged again until one ends.
    expect(e.decide(view({ expectedImprovement: 0.5 })).state).toBe('backed-off');
    e.attemptStarted();
    clock.advance(10);
    e.attemptFinished(10);
    expect(e.decide(view({ expectedImprovement: 0.5, readings: { heldSeconds: 0, childCpuSeconds: 1 } })).state).toBe('searching');
    expect(transitions.at(-1)!.reason).toBe('resumed: the last attempt raised the expected gain above the cost');
  });

  it('once backed off, costs the simulation at most maxDegradation of the time, and still makes attempts', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock, { maxDegradation: 0.05 });
    const attemptSeconds = 30;
    const cpuPerAttempt = 4; // 8 lattice-seconds at 2 per CPU-second
    let childCpuSeconds = 0;
    let running: number | null = null; // when the attempt in flight ends
    let starts = 0;
    let backedOffAt: { seconds: number; cost: number } | null = null;
    for (let second = 0; second < 3600; second += 1) {
      if (running !== null && second >= running) {
        childCpuSeconds += cpuPerAttempt;
        e.attemptFinished(attemptSeconds);
        running = null;
      }
      const readings = { heldSeconds: 0, childCpuSeconds };
      const decision = e.decide(view({ readings, remainingSeconds: null, expectedImprovement: 0.0005 }));
      if (decision.state === 'backed-off' && backedOffAt === null) backedOffAt = { seconds: second, cost: e.costSeconds(readings) };
      if (running === null && decision.waitMs === 0 && starts < 1000) {
        if (backedOffAt !== null) {
          // What this attempt will cost, with all before it since backing off, fits in 5% of the time since then.
          const spentWithIt = e.costSeconds(readings) - backedOffAt.cost + cpuPerAttempt * 2;
          expect(spentWithIt).toBeLessThanOrEqual(0.05 * (second - backedOffAt.seconds) + 1e-9);
        }
        e.attemptStarted();
        starts += 1;
        running = second + attemptSeconds;
      }
      clock.advance(1);
    }
    expect(backedOffAt).not.toBeNull();
    const since = 3600 - backedOffAt!.seconds;
    const costSince = e.costSeconds({ heldSeconds: 0, childCpuSeconds }) - backedOffAt!.cost;
    expect(costSince).toBeLessThanOrEqual(0.05 * since);
    // Not starved either: 5% of the hour buys about 22 attempts of 8 s.
    expect(starts).toBeGreaterThanOrEqual(Math.floor((0.05 * since) / 8) - 1);
  });

  it('judges a run on an archive by what attempts cost earlier runs on this machine and lattice, not by the prior', () => {
    // bench net's warm run: the predictor expects 11% over the 180 s left; one attempt at 4096^2 cost 45 lattice-seconds in 60 s.
    const hope = view({ expectedImprovement: Math.log1p(0.11), remainingSeconds: 180 });
    const clock = new Clock();
    const prior = economy(clock);
    // On the prior of 10 s, 0.11 x 180 = 19.8 s pays: the attempt that cost the warm run 12% starts.
    expect(prior.economy.decide(hope).state).toBe('searching');
    expect(prior.economy.report()).toMatchObject({ judgedAttemptCostSeconds: 10, attemptCostSource: { kind: 'prior', attempts: 0 } });
    const carried = economy(clock, { carriedAttemptCost: { costSeconds: 45, wallSeconds: 60, attempts: 3 } });
    const decision = carried.economy.decide(hope);
    expect(decision.state).toBe('backed-off');
    // 45 s of cost at 5% of the time since backing off: nothing more in a 3-minute run.
    expect(decision.waitMs).toBeCloseTo(900_000, 6);
    // The gain counts only what is left after the attempt's own 60 s: 0.11 x 120.
    expect(carried.transitions[0]).toMatchObject({ attemptCostSeconds: 45, attemptCostSource: { kind: 'carried', attempts: 3 } });
    expect(carried.transitions[0]!.expectedGainSeconds).toBeCloseTo(0.11 * 120, 9);
    expect(carried.transitions[0]!.reason).toBe(
      'the next attempt is expected to win 13.2 lattice-seconds (under the roofline ceiling of 1300 MLUPS) and costs 45.0 ' +
        '(carried from 3 attempts of earlier runs on this machine and lattice)',
    );
    expect(carried.economy.report()).toMatchObject({
      judgedAttemptCostSeconds: 45,
      attemptCostSource: { kind: 'carried', attempts: 3 },
      attemptCostSeconds: null,
    });
  });

  it("takes this run's own measurement over the carried one once an attempt has ended", () => {
    const clock = new Clock();
    const { economy: e } = economy(clock, { carriedAttemptCost: { costSeconds: 45, wallSeconds: 60, attempts: 5 } });
    e.attemptStarted();
    clock.advance(20);
    e.attemptFinished(20, { heldSeconds: 0, childCpuSeconds: 1 });
    expect(e.attemptCostSource()).toEqual({ kind: 'measured', attempts: 1 });
    expect(e.report()).toMatchObject({ judgedAttemptCostSeconds: 2, attemptCostSeconds: 2, attemptSeconds: 20 });
    // 0.5 x (180 - 20) = 80 s pays for 2.
    expect(e.decide(view({ readings: { heldSeconds: 0, childCpuSeconds: 1 }, expectedImprovement: Math.log1p(0.5) })).state).toBe('searching');
  });

  it('charges each ended attempt what the search cost since the last one ended, so the charges add up to the cost', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    e.attemptStarted();
    e.attemptStarted();
    // 6 s held and 2 CPU-seconds beyond what the held work used (14 - 2 x 6), at 2 each: 10 s by the first end.
    expect(e.attemptFinished(30, { heldSeconds: 6, childCpuSeconds: 14 })).toEqual({ costSeconds: 10, wallSeconds: 30 });
    e.chargeTrialLoss(1.5);
    expect(e.attemptFinished(45, { heldSeconds: 6, childCpuSeconds: 16 })).toEqual({ costSeconds: 5.5, wallSeconds: 45 });
    expect(e.attemptFinished(5, { heldSeconds: 6, childCpuSeconds: 16 })).toEqual({ costSeconds: 0, wallSeconds: 5 });
    expect(e.costSeconds()).toBe(15.5);
  });

  it("books the warm start's re-verification apart: in the run's cost, in no attempt's charge", () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    e.attemptStarted();
    // 5 CPU-seconds of children, 4 of them the re-verification's sandbox run: 10 lattice-seconds in all, 2 the attempt's.
    e.chargeReverification(4);
    e.chargeReverification(-1);
    e.chargeReverification(Number.NaN);
    expect(e.attemptFinished(30, { heldSeconds: 0, childCpuSeconds: 5 })).toEqual({ costSeconds: 2, wallSeconds: 30 });
    expect(e.costSeconds()).toBe(10);
    expect(e.report()).toMatchObject({ costSeconds: 10, reverificationCostSeconds: 8, attemptCostSeconds: 2, judgedAttemptCostSeconds: 2 });
    // The next attempt is charged only what came after: 1 more CPU-second.
    e.attemptStarted();
    expect(e.attemptFinished(10, { heldSeconds: 0, childCpuSeconds: 6 })).toEqual({ costSeconds: 2, wallSeconds: 10 });
  });

  it('never starts an attempt backed off when maxDegradation is 0', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock, { maxDegradation: 0 });
    expect(e.decide(view({ expectedImprovement: 0.0001 })).waitMs).toBe(Infinity);
  });
});

/** What bench net's cold run ended in: backed off at 389.5 MLUPS, an attempt costing 10.35 lattice-seconds against 1.5 to win. */
function converged(fields: Partial<ConvergenceRecord> = {}): ConvergenceRecord {
  return {
    machine: 'c'.repeat(64),
    extents: [4096, 4096],
    precision: 'f64',
    threads: 2,
    slot: 'step',
    moduleSha256: 'b'.repeat(64),
    generator: 'variant',
    expectedGainSeconds: 1.5,
    attemptCostSeconds: 10.35,
    ceiling: { kind: 'in-cache', mlups: 452.5 },
    inCacheMlups: 452.5,
    liveMlups: 389.5,
    recordedAt: '2026-12-07T01:00:00.000Z',
    ...fields,
  };
}

function freeSamples(atMs: number[], mlups: number, heldMs = 0): EngineSample[] {
  return atMs.map((at, index) => ({
    atMs: at,
    step: index,
    mlups,
    intervalMs: 1000,
    heldMs,
    energyDrift: 0,
    liveModules: { step: 'kernel', readout: 'reference' },
  }));
}

describe('the remembered convergence', () => {
  it('a back-off keeps the figures it was decided on, and a change forgets them', () => {
    const clock = new Clock();
    const { economy: e } = economy(clock);
    expect(e.converged()).toBeNull();
    e.decide(view({ expectedImprovement: Math.log1p(0.001), liveMlups: 400, inCacheMlups: 450 }));
    expect(e.converged()).toEqual({
      expectedGainSeconds: expect.closeTo(0.18, 9),
      attemptCostSeconds: 10,
      ceiling: { kind: 'roofline', mlups: 1300 },
      inCacheMlups: 450,
      liveMlups: 400,
    });
    e.change('a new step kernel is live');
    expect(e.converged()).toBeNull();
  });

  it('starts backed off on the figures an earlier run converged on: no attempt before the governor allows one, and a change resumes it', () => {
    const clock = new Clock();
    const { economy: e, transitions } = economy(clock, { carriedAttemptCost: { costSeconds: 10.35, wallSeconds: 40, attempts: 5 } });
    e.startConverged(figuresOf(converged()), 'the search converged here');
    expect(e.report()).toMatchObject({ state: 'backed-off', expectedGainSeconds: 1.5, ceiling: { kind: 'in-cache', mlups: 452.5 } });
    expect(transitions).toEqual([
      {
        state: 'backed-off',
        reason: 'the search converged here: the next attempt was expected to win 1.5 lattice-seconds and cost 10.3',
        expectedGainSeconds: 1.5,
        attemptCostSeconds: 10.35,
        attemptCostSource: { kind: 'carried', attempts: 5 },
        costSeconds: 0,
      },
    ]);
    // The predictor has no estimate yet, which alone would search at once: the remembered state holds.
    const decision = e.decide(view());
    expect(decision.state).toBe('backed-off');
    // The carried 10.35 lattice-seconds at 5%: the first attempt waits 207 s, beyond a 3-minute run.
    expect(decision.waitMs).toBeCloseTo(207_000, 6);
    expect(e.converged()).toEqual(figuresOf(converged()));
    expect(e.report()).toMatchObject({ state: 'backed-off', backoffs: 1, resumes: 0 });
    clock.advance(30);
    e.change('the bottleneck moved');
    expect(e.decide(view())).toEqual({ state: 'searching', maxInFlight: 1, waitMs: 0 });
    // Only a run's start is remembered: once it has left it, it does not go back.
    e.startConverged(figuresOf(converged()), 'again');
    expect(e.state).toBe('searching');
  });

  it('describes this run only with the module it converged on live in its slot and the same generator', () => {
    const record = converged();
    expect(convergenceMismatch(record, { moduleSha256: 'b'.repeat(64), generator: 'variant' })).toBeNull();
    expect(convergenceMismatch(record, { moduleSha256: 'e'.repeat(64), generator: 'variant' })).toBe(
      'the live step module is not the one the search converged on',
    );
    expect(convergenceMismatch(record, { moduleSha256: undefined, generator: 'variant' })).toBe('the live step module is not the one the search converged on');
    expect(convergenceMismatch(record, { moduleSha256: 'b'.repeat(64), generator: 'llm' })).toBe(
      'the generator is llm, not variant, which the search converged with',
    );
  });

  it('is kept only with a live rate to judge a later run by', () => {
    const key = { machine: 'c'.repeat(64), extents: [64, 64], precision: 'f32' as const, threads: 1 };
    const at = { slot: 'step' as const, moduleSha256: 'b'.repeat(64), generator: 'variant' };
    const figures = figuresOf(converged());
    expect(convergenceToKeep(key, at, figures)).toEqual({ ...key, ...at, ...figures });
    expect(convergenceToKeep(key, at, { ...figures, liveMlups: null })).toBeNull();
  });

  it('watches for what would make an attempt pay again: the live module, the bottleneck, a live rate well below the remembered one', () => {
    const watch = new ConvergenceWatch(converged(), 10_000);
    const still = { moduleSha256: 'b'.repeat(64), bottleneckSlot: 'step' as const, samples: freeSamples([11_000, 12_000, 13_000], 380), busy: false };
    expect(watch.changed(still)).toBeNull();
    expect(watch.changed({ ...still, bottleneckSlot: null })).toBeNull();
    expect(watch.changed({ ...still, moduleSha256: 'e'.repeat(64) })).toBe('the live step module is not the one the search converged on');
    expect(watch.changed({ ...still, bottleneckSlot: 'readout' })).toBe('the bottleneck is the readout slot, not the step slot the search converged on');
    const slow = (1 - LIVE_RATE_DROP) * 389.5 - 0.1;
    expect(watch.changed({ ...still, samples: freeSamples([11_000, 12_000, 13_000], slow) })).toBe(
      'the live kernel runs at 311.5 MLUPS, more than 20% below the 389.5 MLUPS the search converged at (the machine changed)',
    );
    // Just within 20%: the machine is the same.
    expect(watch.changed({ ...still, samples: freeSamples([11_000, 12_000, 13_000], slow + 0.2) })).toBeNull();
    // Too few samples to say; samples from before the start (the reference, before the warm start's swap) and held ones are not the live kernel's.
    expect(watch.changed({ ...still, samples: freeSamples([11_000, 12_000], slow) })).toBeNull();
    expect(watch.changed({ ...still, samples: [...freeSamples([7_000, 8_000, 9_000], slow), ...freeSamples([11_000], 390)] })).toBeNull();
    expect(watch.changed({ ...still, samples: freeSamples([11_000, 12_000, 13_000], slow, 50) })).toBeNull();
    // While the engine's own work runs beside the lattice (the re-verification), a slow rate is its cost, not the machine's:
    // those samples are left out, and the rate is judged again on the samples after it.
    const busy = new ConvergenceWatch(converged(), 10_000);
    const during = freeSamples([11_000, 12_000, 13_000], slow);
    expect(busy.changed({ ...still, samples: during, busy: true })).toBeNull();
    expect(busy.changed({ ...still, samples: [...during, ...freeSamples([14_000, 15_000], 385)] })).toBeNull();
    expect(busy.changed({ ...still, samples: [...during, ...freeSamples([14_000, 15_000, 16_000], slow)] })).toMatch(/the machine changed/);
  });
});

describe('Predictor.expectedGain', () => {
  it('has no estimate before a candidate has passed, then expects less of a higher bar', () => {
    const predictor = new Predictor();
    expect(predictor.expectedGain(1)).toBeNull();
    predictor.update([0, 1], { passed: false, won: false, speedup: null });
    expect(predictor.expectedGain(1)).toBeNull();
    predictor.update([1, 0], { passed: true, won: true, speedup: 8 });
    predictor.update([1, 1], { passed: true, won: true, speedup: 9 });
    const low = predictor.expectedGain(1)!;
    const high = predictor.expectedGain(9)!;
    expect(low).toBeGreaterThan(Math.log(2));
    expect(high).toBeGreaterThan(0);
    expect(high).toBeLessThan(low);
    expect(() => predictor.expectedGain(0)).toThrow(/barSpeedup/);
  });

  it('averages over the latest candidates the model saw, predicted ones included', () => {
    const predictor = new Predictor();
    predictor.update([1, 0], { passed: true, won: true, speedup: 8 });
    predictor.update([0, 1], { passed: false, won: false, speedup: null });
    const mixed = predictor.expectedGain(4)!;
    for (let i = 0; i < 8; i += 1) predictor.predict([1, 0], 4);
    // The last eight were all like the passing one: more is expected of the next.
    expect(predictor.expectedGain(4)!).toBeGreaterThan(mixed);
    expect(predictor.expectedGain(4)!).toBeCloseTo(predictor.predict([1, 0], 4).expectedImprovement, 12);
  });
});

describe('the economy in the live display', () => {
  it('prints each back-off and resume with its reason, and marks the status block while backed off', () => {
    const lines: string[] = [];
    const engine = new EventEmitter();
    const progress = new RunProgress({ write: (text) => lines.push(text), isTTY: false });
    progress.attach(engine);
    const backedOff: EconomyTransition = {
      state: 'backed-off',
      reason: 'the next attempt is expected to win 1.6 lattice-seconds and costs 8.0',
      expectedGainSeconds: 1.6,
      attemptCostSeconds: 8,
      attemptCostSource: { kind: 'measured', attempts: 1 },
      costSeconds: 8,
    };
    engine.emit('economy', backedOff);
    expect(lines.at(-1)).toBe(
      'economy backed off: the next attempt is expected to win 1.6 lattice-seconds and costs 8.0 (search cost so far 8.0 s of the live job)\n',
    );
    expect(progress.statusLines()).toContain('attempts 0  |  search backed off');
    engine.emit('economy', { ...backedOff, state: 'searching', reason: 'resumed: a new step kernel is live', costSeconds: 9.5 });
    expect(lines.at(-1)).toBe('economy searching: resumed: a new step kernel is live (search cost so far 9.5 s of the live job)\n');
    expect(progress.statusLines()).toContain('attempts 0');
    progress.detach();
  });
});

/** Proposes nothing until the engine aborts it: every attempt it is asked for stays in flight. */
class HangingGenerator implements Generator {
  readonly name = 'hanging';
  calls = 0;
  propose(context: GenerationContext): Promise<CandidateProposal> {
    this.calls += 1;
    return new Promise((_, reject) => context.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
  }
}

describe('the economy in the engine loop', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-economy-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Generator calls once the loop has had several polls after the first attempt started. */
  async function inFlightAtStart(name: string, economyEnabled: boolean): Promise<number> {
    const config = resolveConfig({
      maxConcurrentImprovements: 3,
      improvementInterval: '0ms',
      sampleInterval: '100ms',
      archive: { path: path.join(root, `${name}.sqlite`), warmStart: false },
      economy: { enabled: economyEnabled },
      lattice: { extents: [64, 64] },
      watch: { window: '100ms', minSteps: 5 },
      log: { file: '' },
    });
    const lat = createMainLattice(config.lattice);
    const generator = new HangingGenerator();
    const engine = new Engine(lat, config, { generator, trustGeneratedSources: true, childCpuSeconds: () => 0 });
    try {
      await engine.start();
      while (generator.calls === 0) await once(engine, 'sample');
      // The loop polls every 50 ms; three samples 100 ms apart come after several of its polls (timers fire in deadline order).
      for (let i = 0; i < 3; i += 1) await once(engine, 'sample');
      return generator.calls;
    } finally {
      await engine.stop();
      lat.close();
    }
  }

  /** The in-cache measurements an engine made over its first attempt and three samples, with `rooflineMlups` given; `measured` is resolved by the test. */
  async function inCacheMeasured(
    name: string,
    rooflineMlups: number,
    ceilingGiven: Promise<void> = Promise.resolve(),
    beforeCeiling?: (engine: Engine, calls: () => number) => Promise<void>,
  ) {
    const config = resolveConfig({
      // Above the one in flight, so that the loop asks the economy at every poll.
      maxConcurrentImprovements: 3,
      improvementInterval: '0ms',
      sampleInterval: '100ms',
      archive: { path: path.join(root, `${name}.sqlite`), warmStart: false },
      lattice: { extents: [64, 64] },
      watch: { window: '100ms', minSteps: 5 },
      log: { file: '' },
    });
    const lat = createMainLattice(config.lattice);
    const measured: { modulePath: string; paused: boolean }[] = [];
    const inCacheMlups = (modulePath: string, hold: <T>(work: () => Promise<T>) => Promise<T>) =>
      hold(async () => {
        measured.push({ modulePath, paused: lat.paused });
        await ceilingGiven;
        return 123_456;
      });
    const generator = new HangingGenerator();
    const engine = new Engine(lat, config, { generator, trustGeneratedSources: true, childCpuSeconds: () => 0, rooflineMlups, inCacheMlups });
    try {
      await engine.start();
      if (beforeCeiling) {
        while (measured.length === 0) await once(engine, 'sample');
        await beforeCeiling(engine, () => generator.calls);
      }
      // The loop asks the economy before the first attempt and at each poll after it.
      while (generator.calls === 0) await once(engine, 'sample');
      for (let i = 0; i < 3; i += 1) await once(engine, 'sample');
      return { measured, summary: await engine.stop() };
    } finally {
      await engine.stop();
      lat.close();
    }
  }

  it('measures the live step module in cache once, with the lattice held, when it runs above the roofline, and bounds the gain by it', async () => {
    // The reference at 64 x 64 runs above a 1 MLUPS roofline.
    const above = await inCacheMeasured('above', 1);
    expect(above.measured).toEqual([{ modulePath: expect.stringMatching(/\.so$/), paused: true }]);
    expect(above.summary.economy?.ceiling).toEqual({ kind: 'in-cache', mlups: 123_456 });
    // Far below the roofline, with no hope yet to bound, it holds the lattice for nothing.
    const below = await inCacheMeasured('below', 1e9);
    expect(below.measured).toEqual([]);
    expect(below.summary.economy?.ceiling).toEqual({ kind: 'roofline', mlups: 1e9 });
  }, 60_000);

  it('starts no attempt while the ceiling it needs is being measured, rather than back off on the roofline alone', async () => {
    let give!: () => void;
    const given = new Promise<void>((resolve) => (give = resolve));
    let callsWhileMeasuring = -1;
    const run = await inCacheMeasured('waits', 1, given, async (engine, calls) => {
      // The loop polls every 50 ms: three samples 100 ms apart span several of its polls.
      for (let i = 0; i < 3; i += 1) await once(engine, 'sample');
      callsWhileMeasuring = calls();
      give();
    });
    expect(callsWhileMeasuring).toBe(0);
    expect(run.summary.economy).toMatchObject({ backoffs: 0, ceiling: { kind: 'in-cache', mlups: 123_456 } });
  }, 60_000);

  it("keeps what each ended attempt cost in the archive, and the next run's economy starts from it", async () => {
    const archiveFile = path.join(root, 'carried.sqlite');
    const settings = (extents: number[]) =>
      resolveConfig({
        improvementInterval: '0ms',
        sampleInterval: '100ms',
        archive: { path: archiveFile, warmStart: false },
        lattice: { extents, threads: 1 },
        economy: { childCpuCost: 2 },
        breaker: { failures: 100 },
        watch: { window: '100ms', minSteps: 5 },
        log: { file: '' },
      });
    const config = settings([64, 64]);
    // Each attempt's generator takes 3 CPU-seconds of children (6 lattice-seconds at 2 each), then fails.
    let cpuSeconds = 0;
    const generator: Generator = {
      name: 'costly',
      propose: async () => {
        cpuSeconds += 3;
        throw new Error('no idea');
      },
    };
    const first = createMainLattice(config.lattice);
    const engine = new Engine(first, config, { generator, trustGeneratedSources: true, childCpuSeconds: () => cpuSeconds });
    try {
      await engine.start();
      while (engine.summary().attempts < 3) await once(engine, 'attempt-finished');
    } finally {
      await engine.stop();
      first.close();
    }
    const key = { machine: (await machineFingerprint()).hash, extents: [64, 64], precision: config.lattice.precision, threads: 1 };
    const archive = Archive.open(archiveFile);
    const kept = archive.attemptCosts.recent(key, ['step'], 100);
    archive.close();
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.every((cost) => cost.costSeconds === 6 && cost.slot === 'step')).toBe(true);

    const second = createMainLattice(config.lattice);
    const next = new Engine(second, config, { generator: new HangingGenerator(), trustGeneratedSources: true, childCpuSeconds: () => 0, autoImprove: false });
    try {
      await next.start();
      expect(next.summary().economy).toMatchObject({
        judgedAttemptCostSeconds: 6,
        attemptCostSource: { kind: 'carried', attempts: Math.min(kept.length, CARRIED_ATTEMPTS) },
      });
    } finally {
      await next.stop();
      second.close();
    }
    // Another lattice on the same archive was never measured: the prior.
    const other = settings([96, 96]);
    const third = createMainLattice(other.lattice);
    const unmeasured = new Engine(third, other, {
      generator: new HangingGenerator(),
      trustGeneratedSources: true,
      childCpuSeconds: () => 0,
      autoImprove: false,
    });
    try {
      await unmeasured.start();
      expect(unmeasured.summary().economy).toMatchObject({ judgedAttemptCostSeconds: 10, attemptCostSource: { kind: 'prior', attempts: 0 } });
    } finally {
      await unmeasured.stop();
      third.close();
    }
  }, 60_000);

  describe('starting from a remembered convergence', () => {
    const referenceModule = fileSha256(kernelModulePath('reference'));
    const settings = (file: string, extents = [64, 64]) =>
      resolveConfig({
        maxConcurrentImprovements: 3,
        improvementInterval: '0ms',
        sampleInterval: '100ms',
        archive: { path: path.join(root, file), warmStart: false },
        lattice: { extents, threads: 1 },
        watch: { window: '100ms', minSteps: 5 },
        log: { file: '' },
      });

    /**
     * A run on an archive that remembers the search converged on the 64 x 64
     * lattice with the reference live (what `fields` leave as it is), with
     * the hanging generator named `generator`: its generator calls after
     * eight samples, its economy, and what the archive remembers afterwards.
     */
    async function runFrom(
      name: string,
      fields: Partial<ConvergenceRecord> | ((lat: Lattice) => Partial<ConvergenceRecord>),
      options: { generator?: string; extents?: number[] } = {},
    ) {
      const config = settings(`${name}.sqlite`, options.extents);
      const key = { machine: (await machineFingerprint()).hash, extents: [64, 64], precision: config.lattice.precision, threads: 1 };
      const lat = createMainLattice(config.lattice);
      const given = typeof fields === 'function' ? fields(lat) : fields;
      const seeded = Archive.open(config.archive.path);
      const recorded = seeded.convergence.record({ ...converged(), ...key, moduleSha256: referenceModule, generator: 'hanging', liveMlups: 0.001, ...given });
      seeded.close();
      const generator = new HangingGenerator();
      if (options.generator !== undefined) Object.defineProperty(generator, 'name', { value: options.generator });
      const engine = new Engine(lat, config, { generator, trustGeneratedSources: true, childCpuSeconds: () => 0 });
      const transitions: EconomyTransition[] = [];
      engine.on('economy', (transition) => transitions.push(transition));
      let calls: number;
      try {
        await engine.start();
        // The loop begins after the baseline window: with a back-off from the record, or the first attempt.
        while (transitions.length === 0 && generator.calls === 0) await once(engine, 'sample');
        // It polls every 50 ms: eight samples 100 ms apart span many of its polls.
        for (let i = 0; i < 8; i += 1) await once(engine, 'sample');
        calls = generator.calls;
      } finally {
        await engine.stop();
        lat.close();
      }
      const after = Archive.open(config.archive.path);
      const remembered = after.convergence.latest(key);
      after.close();
      return { calls, transitions, recorded, remembered };
    }

    it('starts backed off and breeds nothing when the module it converged on is live, and keeps the convergence it ends in', async () => {
      const run = await runFrom('honoured', {});
      expect(run.calls).toBe(0);
      expect(run.transitions).toHaveLength(1);
      expect(run.transitions[0]).toMatchObject({ state: 'backed-off', expectedGainSeconds: 1.5, attemptCostSeconds: 10.35 });
      expect(run.transitions[0]!.reason).toMatch(/^the search converged on this machine and lattice with this step module live \(2026-/);
      // Ended backed off: the record is this run's, on the figures it started from.
      const { recordedAt, ...figures } = run.remembered!;
      expect(recordedAt > run.recorded.recordedAt).toBe(true);
      expect({ ...figures, recordedAt: run.recorded.recordedAt }).toEqual(run.recorded);
    }, 60_000);

    // The readout slot's own live module, so that only the bottleneck differs (the step kernel takes the time at 64 x 64).
    const readoutConverged = (lat: Lattice) => ({ slot: 'readout' as const, moduleSha256: fileSha256(lat.slots().readout.live.path) });
    it.each([
      ['another live module', { moduleSha256: 'e'.repeat(64) }, {}, null],
      ['another generator', {}, { generator: 'variant' }, null],
      ['another lattice', {}, { extents: [96, 96] }, null],
      ['another bottleneck slot', readoutConverged, {}, /^resumed: the bottleneck is the step slot, not the readout slot/],
      ['a live rate more than 20% below the remembered one', { liveMlups: 1e9 }, {}, /^resumed: the live kernel runs at .* \(the machine changed\)$/],
    ])(
      'searches with %s',
      async (name, fields, options, resumed) => {
        const run = await runFrom(name.replaceAll(' ', '-'), fields, options);
        expect(run.calls).toBeGreaterThan(0);
        // Not described by the record, it never starts backed off; still described, it starts so and resumes at the change.
        if (resumed === null) expect(run.transitions).toEqual([]);
        else expect(run.transitions.map((transition) => transition.reason)).toEqual([expect.any(String), expect.stringMatching(resumed)]);
        // It ended searching: the convergence it started from no longer holds, and is forgotten.
        if (!('extents' in options)) expect(run.remembered).toBeNull();
      },
      60_000,
    );
  });

  it('starts one attempt, not maxConcurrentImprovements, while nothing has passed; the fixed pacing starts them all', async () => {
    expect(await inFlightAtStart('economy', true)).toBe(1);
    expect(await inFlightAtStart('fixed', false)).toBe(3);
  }, 60_000);
});

describe('netFraction in the engine summary', () => {
  function sample(step: number, mlups: number, heldMs = 0): EngineSample {
    return { atMs: step, step, mlups, intervalMs: 1000, heldMs, energyDrift: 0, liveModules: { step: 'reference', readout: 'reference' } };
  }

  function inputs(samples: EngineSample[], ledger: Partial<LedgerEntry>[]): SummaryInputs {
    return {
      wallSeconds: 10,
      // 1000 steps of 1e6 cells in 10 s: 100 net MLUPS.
      steps: 1500,
      startStep: 500,
      cells: 1_000_000,
      samples,
      baseline: null,
      baselineSource: null,
      final: null,
      records: [],
      ledger: ledger as LedgerEntry[],
      maxEnergyDrift: 0,
      incumbents: new Map(),
      liveNames: { step: 'reference', readout: 'reference' },
      costUsd: 0,
      circuitOpenings: 0,
      predictor: new Predictor().stats(),
      heldSeconds: 1,
      firstApplyAtSeconds: null,
      economy: null,
      account: new RunAccount(() => 0, 0).report({ heldSeconds: 1, childCpuSeconds: 0, attempts: 0, watchdogSeconds: 0 }),
    };
  }

  it('is net MLUPS over the unheld samples after the last change to the live kernels', () => {
    const samples = [sample(600, 40), sample(700, 45), sample(800, 150), sample(900, 10, 800), sample(1000, 130), sample(1100, 125)];
    const summary = summarise(inputs(samples, [{ action: 'apply', atStep: 750 }]));
    expect(summary.netMlups).toBe(100);
    // 150, 130, 125 after step 750 (the held one left out): median 130.
    expect(summary.netFraction).toBe(100 / 130);
    // No change: every unheld sample.
    expect(summarise(inputs(samples, [])).netFraction).toBe(100 / 125);
    // A change after the last sample: the last unheld one.
    expect(summarise(inputs(samples, [{ action: 'apply', atStep: 1200 }])).netFraction).toBe(100 / 125);
    expect(summarise(inputs([sample(600, 10, 900)], [])).netFraction).toBeNull();
  });
});
