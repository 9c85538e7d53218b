// Live A/B trials and re-judging, driven with synthetic windows and injected
// verdicts: the statistics (ab-test.ts), the trial loop against a lattice
// stand-in that swaps and rolls back as the core does (kernel_slots.cpp:
// swap makes the previous live module last-known-good, rollback makes live
// = last-known-good), and the attempt runner's judge path. Nothing here
// times a kernel, so every outcome is decided by the windows the test gives.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { machineFingerprint } from '../dist/ts/archive/fingerprint.js';
import type { LedgerEntry } from '../dist/ts/archive/types.js';
import { type PairedWindows, abVerdict, studentTQuantile } from '../dist/ts/engine/ab-test.js';
import { AttemptRunner, type AttemptHost } from '../dist/ts/engine/attempt-runner.js';
import { predictorSample } from '../dist/ts/engine/candidate-features.js';
import { CircuitBreaker } from '../dist/ts/engine/circuit-breaker.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { type Judgement, judgeCandidate, sandboxTimeoutMs } from '../dist/ts/engine/judge.js';
import { type ChangeRequest, type Incumbent, type LiveChangeSettings, LiveChanges, fileSha256 } from '../dist/ts/engine/live-changes.js';
import { type TrialSlot, runTrial, trialLossSeconds } from '../dist/ts/engine/live-trial.js';
import { Predictor } from '../dist/ts/engine/predictor.js';
import { StrategyMemory } from '../dist/ts/engine/strategy-memory.js';
import type { ThroughputWindow, WindowOptions } from '../dist/ts/engine/watch.js';
import type { CandidateOptions } from '../dist/ts/gauntlet/options.js';
import type { GauntletVerdict } from '../dist/ts/gauntlet/types.js';
import type { CandidateProposal, Generator } from '../dist/ts/generators/types.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import type { WatchdogEvent } from '../dist/ts/lattice/watchdog.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { kernelModulePath } from '../dist/native/loader.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ab-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SETTINGS = { minGain: 0.03, maxPairs: 12 };
const pairs = (ratios: number[]): PairedWindows[] => ratios.map((r) => ({ incumbentMlups: 100, candidateMlups: 100 * r }));

describe('abVerdict', () => {
  it("uses Student's t quantiles", () => {
    expect(studentTQuantile(0.025, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(2.2281, 3);
    expect(studentTQuantile(0.005, 5)).toBeCloseTo(4.0321, 3);
  });

  it('declares a clear win after few pairs, with the geometric mean and an interval above 1 + minGain', () => {
    const first = abVerdict(pairs([1.5]), SETTINGS);
    expect(first).toMatchObject({ decision: 'continue', pairs: 1 });
    const verdict = abVerdict(pairs([1.5, 1.52, 1.48]), SETTINGS);
    expect(verdict.decision).toBe('win');
    expect(verdict.ratio).toBeCloseTo(Math.cbrt(1.5 * 1.52 * 1.48), 12);
    expect(verdict.low).toBeGreaterThan(1.03);
    expect(verdict.high).toBeGreaterThan(verdict.ratio);
    expect(verdict.reason).toMatch(/^candidate\/incumbent 1\.500 \[\S+, \S+\] over 3 pairs: faster by more than 3\.0%$/);
  });

  it('declares a loss as soon as the interval lies below 1 + minGain', () => {
    expect(abVerdict(pairs([0.7, 0.71, 0.69]), SETTINGS)).toMatchObject({ decision: 'lose' });
    // Equal speed is a loss too: a 3% gain is out of reach once the interval is tight enough.
    expect(abVerdict(pairs([1, 1.001, 0.999, 1]), SETTINGS).decision).toBe('lose');
  });

  it('goes on while noise hides the answer, and stops undecided at maxPairs', () => {
    const noisy = [0.7, 1.6, 0.8, 1.5, 0.75, 1.55];
    expect(abVerdict(pairs(noisy), { ...SETTINGS, maxPairs: 7 }).decision).toBe('continue');
    const capped = abVerdict(pairs(noisy), { ...SETTINGS, maxPairs: 6 });
    expect(capped.decision).toBe('lose');
    expect(capped.reason).toMatch(/undecided after 6 pairs \(trial\.maxPairs\)$/);
  });

  it('leaves out a pair with a window in which no step ran', () => {
    const windows = [...pairs([1.5, 1.5]), { incumbentMlups: 0, candidateMlups: 150 }];
    expect(abVerdict(windows, SETTINGS).pairs).toBe(2);
  });
});

/**
 * Throughput windows the test dictates: module k alone runs at 100 x 1.5^(k - 1)
 * MLUPS, and a candidate on trial at the incumbent's rate times its next ratio.
 */
class Windows {
  readonly order: ('A' | 'B')[] = [];
  private candidateWindows = 0;
  constructor(
    private readonly candidateRatios: (index: number) => number,
    readonly windowMs = 100,
    /** How long a candidate's window takes to reach its least steps. */
    readonly candidateWindowMs = windowMs,
  ) {}
  static alone(moduleId: number): number {
    return 100 * 1.5 ** (moduleId - 1);
  }
  next(liveId: number, incumbentId: number): ThroughputWindow {
    const onTrial = liveId !== incumbentId;
    this.order.push(onTrial ? 'B' : 'A');
    const mlups = onTrial ? Windows.alone(incumbentId) * this.candidateRatios(this.candidateWindows++) : Windows.alone(liveId);
    return { steps: 10, kernelNs: 1e6, wallMs: onTrial ? this.candidateWindowMs : this.windowMs, mlups };
  }
}

/**
 * Just what LiveChanges uses of a lattice, with the core's slot semantics
 * and a step count that advances 10 steps per measured window.
 */
class FakeLattice extends EventEmitter {
  stepCount = 100;
  readonly live = { step: 1, readout: 1 };
  readonly lastKnownGood = { step: 1, readout: 1 };
  readonly paths = new Map<number, string>([[1, '/modules/incumbent.so']]);
  /** [live, last-known-good] after each swap or rollback. */
  readonly history: [number, number][] = [];
  invariantsOk = true;
  private nextId = 2;

  async loadModule(file: string): Promise<number> {
    const id = this.nextId++;
    this.paths.set(id, file);
    return id;
  }
  isConfined(): boolean {
    return false;
  }
  moduleInfo(id: number) {
    // As the lattice's first kernel, module 0 was never loaded through loadModule().
    if (id === 0) throw new RangeError('moduleId = 0: is not a module loaded by this lattice');
    const file = this.paths.get(id)!;
    return { id, path: file, sha256: `${id}`.padStart(64, '0'), name: path.basename(file) };
  }
  async swap(slot: 'step', id: number) {
    this.lastKnownGood[slot] = this.live[slot];
    this.live[slot] = id;
    return this.changed(slot);
  }
  async rollback(slot: 'step') {
    this.live[slot] = this.lastKnownGood[slot];
    return this.changed(slot);
  }
  private changed(slot: 'step') {
    this.history.push([this.live[slot], this.lastKnownGood[slot]]);
    this.stepCount += 1;
    return { slot, appliedAtStep: this.stepCount, firstStepRan: true, gapNs: 1000 };
  }
  slots() {
    const module = (id: number) => ({ id, name: path.basename(this.paths.get(id)!), path: this.paths.get(id)! });
    return {
      step: { live: module(this.live.step), lastKnownGood: module(this.lastKnownGood.step) },
      readout: { live: module(this.live.readout), lastKnownGood: module(this.lastKnownGood.readout) },
    };
  }
  /** The steps each canary was asked for. */
  readonly canaries: number[] = [];
  async canary(_slot: string, _moduleId: number, options: { steps: number }) {
    this.canaries.push(options.steps);
    return { steps: options.steps, maxAbsDifference: 0, candidateEnergy: 1, incumbentEnergy: 1, candidateFpRestores: 0 };
  }
  async checkInvariantsAsync() {
    return this.invariantsOk ? { ok: true, violations: [] } : { ok: false, violations: ['energy drift 1e-3 > 1e-9'] };
  }
  /** The watchdog rolling the slot back as the core does: live = last-known-good, state restored. */
  watchdogFires(): WatchdogEvent {
    const from = this.live.step;
    this.live.step = this.lastKnownGood.step;
    const event = {
      reason: 'energy-drift',
      detail: 'energy drift 2e-6 > 1e-9 at step 130',
      slot: 'step',
      checkedStep: 130,
      failedStep: this.stepCount,
      restoredStep: 120,
      rolledBackFrom: `${from}`,
      rolledBackTo: `${this.live.step}`,
    } as unknown as WatchdogEvent;
    this.emit('watchdog', event);
    return event;
  }
}

const TRIAL_SETTINGS: LiveChangeSettings = {
  trustGeneratedSources: true,
  canarySteps: 10,
  canaryTolerance: 1e-9,
  watchWindowMs: 100,
  watchMinSteps: 1,
  maxDegradation: 0.05,
  driftTolerance: 1e-9,
  trialWindowMs: 100,
  trialMinSteps: 1,
  trialMaxPairs: 8,
  trialMinGain: 0.03,
  trialMaxSlowerLiveMs: 350,
};

let archives = 0;
/** A LiveChanges over a FakeLattice, with a real ledger (so its hash chain is checked) and injected windows. */
function liveSetup(windows: Windows, settings: Partial<LiveChangeSettings> = {}, onWindow?: (lat: FakeLattice, count: number) => void) {
  const lat = new FakeLattice();
  const archive = Archive.open(path.join(root, `live-${(archives += 1)}.sqlite`));
  const phases: string[] = [];
  const applied: LedgerEntry[] = [];
  const rolledBack: LedgerEntry[] = [];
  let measured = 0;
  const measure = async (_slot: string, options: WindowOptions): Promise<ThroughputWindow> => {
    measured += 1;
    onWindow?.(lat, measured);
    const whole = windows.next(lat.live.step, live.incumbents.get('step')!.moduleId);
    // As measureSlot does, the window ends at its timeout whatever it measured by then.
    const window = { ...whole, wallMs: Math.min(whole.wallMs, options.timeoutMs ?? Infinity) };
    lat.stepCount += window.steps;
    return options.signal?.aborted ? { ...window, steps: 0, mlups: 0 } : window;
  };
  const live = new LiveChanges(
    lat as unknown as Lattice,
    archive.ledger,
    { ...TRIAL_SETTINGS, ...settings },
    {
      phase: (_id, phase) => phases.push(phase),
      applied: (entry) => applied.push(entry),
      rolledBack: (entry) => rolledBack.push(entry),
      incumbentLost: () => undefined,
    },
    measure,
  );
  const rootId = archive.ensureRoot('step', '// reference', 'a'.repeat(64)).id;
  const incumbent: Incumbent = { slot: 'step', attemptId: rootId, moduleId: 1, modulePath: '/modules/incumbent.so', moduleSha256: 'a'.repeat(64), speedup: 2 };
  live.adopt(incumbent);
  const candidateId = archive.insertAttempt({
    parentId: rootId,
    slot: 'step',
    generator: 'fixture',
    operator: 'fixture',
    genome: null,
    prompt: null,
    source: '// candidate',
  }).id;
  return { lat, archive, live, phases, applied, rolledBack, incumbent, candidateId };
}

const trialRequest = (attemptId: number): ChangeRequest => ({
  slot: 'step',
  attemptId,
  modulePath: `/modules/candidate-${attemptId}.so`,
  speedup: 3,
  action: 'apply',
  reason: 'passed the sandbox against attempt 1',
  speedJudge: { by: 'trial' },
  trusted: true,
});

describe('live A/B trial', () => {
  it('applies a clear win after few pairs, alternating A B B A, with the incumbent last-known-good throughout', async () => {
    const windows = new Windows((i) => [1.5, 1.52, 1.49, 1.51][i % 4]!);
    const { lat, archive, live, phases, applied, candidateId } = liveSetup(windows);
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('applied');
    if (outcome.status !== 'applied') return;
    expect(outcome.trial!.verdict).toMatchObject({ decision: 'win', pairs: 3 });
    expect(windows.order).toEqual(['A', 'B', 'B', 'A', 'A', 'B']);
    expect(phases).toEqual(['canary', 'trial']);
    // Every swap left the incumbent (module 1) last-known-good; the candidate stayed live after the last B window.
    expect(lat.history.every(([, lastKnownGood]) => lastKnownGood === 1)).toBe(true);
    expect(lat.live.step).not.toBe(1);
    expect(outcome.speedup).toBeCloseTo(2 * outcome.trial!.verdict.ratio, 12);
    expect(live.incumbents.get('step')).toMatchObject({ attemptId: candidateId, speedup: outcome.speedup });
    // One ledger entry, at the swap the candidate stayed live from, naming the earlier steps it computed.
    const entries = archive.ledger.entries();
    expect(entries).toEqual(applied);
    expect(entries).toHaveLength(1);
    const spans = outcome.trial!.candidateSpans;
    expect(spans).toHaveLength(2);
    expect(entries[0]).toMatchObject({ action: 'apply', attemptId: candidateId, atStep: spans[1]!.fromStep, previousModuleSha256: 'a'.repeat(64) });
    expect(entries[0]!.reason).toContain(`won its A/B trial against attempt 1`);
    expect(entries[0]!.reason).toContain(`it also stepped [${spans[0]!.fromStep}, ${spans[0]!.toStep})`);
    expect(archive.ledger.verify().ok).toBe(true);
    archive.close();
  });

  it('stops a clearly slower candidate early and leaves the incumbent live, with a trial entry in the ledger', async () => {
    const windows = new Windows(() => 0.6);
    const { lat, archive, live, rolledBack, candidateId, incumbent } = liveSetup(windows, { trialMaxSlowerLiveMs: 10_000 });
    // The lattice's first kernel, which the incumbent replaced, is last-known-good before the trial,
    // and again after it (a stand-in loaded from the same file: swap() cannot take the first kernel's id).
    lat.paths.set(0, '/modules/first.so');
    lat.lastKnownGood.step = 0;
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('passed');
    if (outcome.status !== 'passed') return;
    expect(outcome.trial!.verdict).toMatchObject({ decision: 'lose', pairs: 2 });
    expect(outcome.reason).toMatch(
      /^not applied: it lost its A\/B trial against attempt 1 \(.*\): candidate\/incumbent 0\.600 .*cannot be 3\.0% faster; it stepped \[\d+, \d+\)$/,
    );
    expect(lat.live.step).toBe(1);
    expect(lat.paths.get(lat.lastKnownGood.step)).toBe('/modules/first.so');
    expect(live.incumbents.get('step')!.attemptId).toBe(incumbent.attemptId);
    // The candidate's module computed live steps: the hash-chained ledger says which, and that the incumbent is live again.
    const spans = outcome.trial!.candidateSpans;
    const entries = archive.ledger.entries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'trial', attemptId: candidateId, atStep: spans[0]!.fromStep, previousModuleSha256: incumbent.moduleSha256 });
    expect(entries[0]!.moduleSha256).not.toBe(incumbent.moduleSha256);
    expect(entries[0]!.reason).toContain(`live in an A/B trial against attempt 1, then the incumbent again: ${outcome.reason}`);
    expect(archive.ledger.verify().ok).toBe(true);
    // What should be live is still the incumbent's last change (none here), not the trial.
    expect(archive.ledger.latest('step')).toBeNull();
    expect(rolledBack).toEqual([]);
    archive.close();
  });

  it('keeps a slower candidate live no longer than trial.maxSlowerLive when noise hides how much slower', async () => {
    const windows = new Windows((i) => [0.5, 1.2][i % 2]!);
    const { lat, archive, live, candidateId } = liveSetup(windows, { trialMaxSlowerLiveMs: 350 });
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('passed');
    if (outcome.status !== 'passed') return;
    expect(outcome.trial!.end).toBe('slower-cap');
    expect(outcome.trial!.candidateLiveMs).toBeLessThanOrEqual(350);
    expect(outcome.reason).toMatch(/stopped before its live time would pass 350 ms \(trial\.maxSlowerLive\)/);
    expect(lat.live.step).toBe(1);
    archive.close();
  });

  it('cuts the window of a candidate whose least steps would outlast trial.maxSlowerLive', async () => {
    const windows = new Windows(() => 0.3, 100, 600);
    const { lat, archive, live, candidateId } = liveSetup(windows, { trialMaxSlowerLiveMs: 350 });
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('passed');
    if (outcome.status !== 'passed') return;
    expect(outcome.trial).toMatchObject({ end: 'slower-cap', candidateLiveMs: 350 });
    expect(windows.order).toEqual(['A', 'B']);
    expect(lat.live.step).toBe(1);
    archive.close();
  });

  it('stops a noisy trial at trial.maxPairs and does not apply it', async () => {
    const windows = new Windows((i) => [0.8, 1.9][i % 2]!);
    const { lat, archive, live, candidateId } = liveSetup(windows, { trialMaxPairs: 6, trialMaxSlowerLiveMs: 10_000 });
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('passed');
    if (outcome.status !== 'passed') return;
    expect(outcome.trial!.verdict).toMatchObject({ decision: 'lose', pairs: 6 });
    expect(outcome.reason).toMatch(/undecided after 6 pairs/);
    expect(windows.order).toHaveLength(12);
    expect(lat.live.step).toBe(1);
    expect(archive.ledger.entries().map((entry) => entry.action)).toEqual(['trial']);
    archive.close();
  });

  it('ends the trial as a rollback when the watchdog fires in a candidate window', async () => {
    const windows = new Windows(() => 1.5);
    // The third window is the second pair's first, a B window (A B, B A).
    const { lat, archive, live, rolledBack, candidateId, incumbent } = liveSetup(windows, {}, (fake, count) => {
      if (count === 3) fake.watchdogFires();
    });
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('rolled-back');
    if (outcome.status !== 'rolled-back') return;
    expect(outcome.trial!.end).toBe('watchdog');
    expect(outcome.reason).toMatch(/^the watchdog rolled it back during its A\/B trial: energy drift 2e-6 > 1e-9 at step 130; it had stepped \[\d+, \d+\)$/);
    expect(lat.live.step).toBe(1);
    expect(live.incumbents.get('step')!.attemptId).toBe(incumbent.attemptId);
    const entries = archive.ledger.entries();
    expect(entries.map((e) => [e.action, e.attemptId])).toEqual([
      ['apply', candidateId],
      ['rollback', candidateId],
    ]);
    expect(entries[0]!.atStep).toBe(outcome.trial!.candidateSpans[0]!.fromStep);
    expect(entries[1]).toMatchObject({ moduleSha256: 'a'.repeat(64), reason: outcome.reason });
    expect(rolledBack).toEqual([entries[1]]);
    expect(archive.ledger.verify().ok).toBe(true);
    archive.close();
  });

  it('rolls a winner back when an invariant fails on the live state after the trial', async () => {
    const windows = new Windows(() => 1.5);
    const { lat, archive, live, candidateId } = liveSetup(windows);
    lat.invariantsOk = false;
    const outcome = await live.change(trialRequest(candidateId));
    expect(outcome.status).toBe('rolled-back');
    expect(outcome.reason).toMatch(/^an invariant failed after the swap: energy drift 1e-3 > 1e-9; it had stepped /);
    expect(lat.live.step).toBe(1);
    expect(archive.ledger.entries().map((e) => e.action)).toEqual(['apply', 'rollback']);
    archive.close();
  });

  it('puts the incumbent back when the engine stops mid-trial', async () => {
    const windows = new Windows(() => 1.01);
    const stop = new AbortController();
    const { lat, archive, live, candidateId } = liveSetup(windows, {}, (_fake, count) => {
      if (count === 3) stop.abort();
    });
    const outcome = await live.change(trialRequest(candidateId), stop.signal);
    expect(outcome.status).toBe('passed');
    expect(outcome.reason).toMatch(/^not applied: the engine stopped first: the stop cut its A\/B trial short; it stepped \[\d+, \d+\)$/);
    expect(lat.live.step).toBe(1);
    expect(archive.ledger.entries().map((entry) => [entry.action, entry.attemptId])).toEqual([['trial', candidateId]]);
    archive.close();
  });

  it('says so when the stop comes before the candidate stepped live', async () => {
    const windows = new Windows(() => 1.5);
    const stop = new AbortController();
    const { lat, archive, live, candidateId } = liveSetup(windows, {}, (_fake, count) => {
      if (count === 1) stop.abort();
    });
    const outcome = await live.change(trialRequest(candidateId), stop.signal);
    expect(outcome).toMatchObject({
      status: 'passed',
      reason: 'not applied: the engine stopped first: the stop cut its A/B trial short, before it stepped live',
    });
    expect(lat.history).toEqual([]);
    // No module of its stepped the live lattice: nothing for the ledger.
    expect(archive.ledger.entries()).toEqual([]);
    archive.close();
  });

  it('waits for the sandbox queue, so no sandbox run overlaps a trial', async () => {
    const events: string[] = [];
    const queue = {
      run: async <T>(work: () => Promise<T>): Promise<T> => {
        events.push('queue start');
        try {
          return await work();
        } finally {
          events.push('queue end');
        }
      },
    };
    const windows = new Windows(() => 1.5);
    const { archive, live, candidateId } = liveSetup(windows, { sandboxQueue: queue }, () => events.push('window'));
    await live.change(trialRequest(candidateId));
    expect(events[0]).toBe('queue start');
    expect(events.at(-1)).toBe('queue end');
    expect(events.filter((e) => e === 'window')).toHaveLength(windows.order.length);
    archive.close();
  });
});

describe('runTrial', () => {
  it('gives the steps the candidate computed, in spans from its swap in to its swap out', async () => {
    let step = 0;
    let candidate = false;
    let candidateWindows = 0;
    const slot: TrialSlot = {
      toCandidate: async () => {
        candidate = true;
        return (step += 1);
      },
      toIncumbent: async () => {
        candidate = false;
        return (step += 1);
      },
      measure: async () => {
        step += 5;
        return { steps: 5, kernelNs: 1e6, wallMs: 100, mlups: candidate ? [300, 310, 290][candidateWindows++ % 3]! : 100 };
      },
    };
    const result = await runTrial(slot, { minGain: 0.03, maxPairs: 8, windowMs: 100, maxSlowerLiveMs: 1000 }, new AbortController().signal);
    // A [B B] A A [B: still live, the winner]
    expect(result).toMatchObject({ end: 'decided', candidateLive: true, candidateLiveMs: 300 });
    expect(result.candidateSpans).toEqual([
      { fromStep: 6, toStep: 17 },
      { fromStep: 28, toStep: null },
    ]);
  });
});

// ------------------------------------------------------------ the judge path (item 4: no winner thrown away)

function verdictFor(modulePath: string, ratio: number): Judgement {
  const lattice = (name: string) => ({
    lattice: name,
    extents: [128, 128],
    steps: 8,
    samples: 9,
    candidateMedianNs: ratio * 1e6,
    incumbentMedianNs: 1e6,
    ratio,
    ratioLow: ratio * 0.95,
    ratioHigh: ratio * 1.05,
    pValue: 0.001,
    verdict: ratio < 0.97 ? 'faster' : ratio > 1.03 ? 'slower' : 'indistinguishable',
  });
  const verdict = {
    accepted: true,
    improves: ratio < 0.97,
    failedGate: null,
    gates: [{ gate: 'compile', passed: true, reason: '', details: { modulePath }, seconds: 1 }],
    safetyScore: 1,
    compileCached: false,
    isolation: [],
    benchmark: { wins: ratio < 0.97, lattices: [lattice('target'), lattice('held-out')], overhead: [] },
    seconds: 1,
  } as unknown as GauntletVerdict;
  return { verdict, modulePath, benchRatio: ratio, speedup: null };
}

class OneSource implements Generator {
  readonly name = 'fixture';
  constructor(private readonly source: string) {}
  async propose(): Promise<CandidateProposal> {
    return { generator: this.name, operator: 'fixture', source: this.source, genome: null, prompt: null, costUsd: 0 };
  }
}

/**
 * An attempt whose gauntlet run is `judge`, against a LiveChanges on a
 * FakeLattice in which every candidate window is 1.5 times the incumbent's.
 */
async function runnerSetup(speedJudge: 'live-ab' | 'benchmark') {
  const windows = new Windows((i) => [1.5, 1.52, 1.49][i % 3]!);
  const setup = liveSetup(windows);
  const config = resolveConfig({ gauntlet: { speedJudge }, archive: { path: path.join(root, 'unused.sqlite') } });
  const roots = new Map([
    ['step', setup.incumbent.attemptId],
    ['readout', setup.archive.ensureRoot('readout', '// reference readout', 'a'.repeat(64)).id],
  ]);
  const moduleFile = (name: string) => {
    const file = path.join(root, `${name}-${archives}.so`);
    writeFileSync(file, name);
    return file;
  };
  const judged: number[] = [];
  let judge: (incumbent: Incumbent) => Promise<Judgement> = async () => verdictFor(moduleFile('candidate'), 0.5);
  const host: AttemptHost = {
    lat: setup.lat as unknown as Lattice,
    config,
    archive: setup.archive,
    fingerprint: await machineFingerprint(),
    live: setup.live,
    breaker: new CircuitBreaker({ failures: 5, backoffMs: 10, maxBackoffMs: 10 }),
    memory: StrategyMemory.fromRecords([]),
    predictor: Predictor.fromRecords([], predictorSample),
    generator: new OneSource('// candidate kernel'),
    generatorSlots: ['step'],
    gauntlet: { pool: undefined, sandboxQueue: { run: (work) => work() } },
    judge: async (_source, _slot, incumbent) => {
      judged.push(incumbent.attemptId);
      return judge(incumbent);
    },
    signal: new AbortController().signal,
    rootOf: (slot) => roots.get(slot)!,
    liveMlups: () => 100,
    phase: () => undefined,
    addCost: () => undefined,
  };
  (setup.lat as unknown as { profile: () => unknown }).profile = () => ({
    step: { share: 1, meanNs: 1e6, p99Ns: 2e6 },
    readout: { share: 0, meanNs: 0, p99Ns: 0 },
  });
  const run = (ticket: number) => new AttemptRunner(host, ticket, seededRandom(ticket)).run({ slot: 'step' }, () => undefined);
  return { ...setup, host, judged, moduleFile, run, roots, setJudge: (next: typeof judge) => (judge = next) };
}

/** Another attempt's winner goes live (through the same LiveChanges) while the first is still in the gauntlet. */
async function anotherWinnerGoesLive(setup: Awaited<ReturnType<typeof runnerSetup>>, speedJudge: ChangeRequest['speedJudge']) {
  const other = setup.archive.insertAttempt({
    parentId: setup.roots.get('step')!,
    slot: 'step',
    generator: 'fixture',
    operator: 'fixture',
    genome: null,
    prompt: null,
    source: '// another kernel',
  });
  const outcome = await setup.live.change({
    slot: 'step',
    attemptId: other.id,
    modulePath: setup.moduleFile('other'),
    speedup: 2,
    action: 'apply',
    reason: 'the other winner',
    speedJudge,
    trusted: true,
  });
  expect(outcome.status).toBe('applied');
  return other.id;
}

describe('a winner judged while the incumbent changed', () => {
  it('is judged again against the new incumbent when the sandbox benchmark decides, never dropped as stale', async () => {
    const setup = await runnerSetup('benchmark');
    const rootId = setup.roots.get('step')!;
    let otherId = 0;
    setup.setJudge(async (incumbent) => {
      if (incumbent.attemptId === rootId) otherId = await anotherWinnerGoesLive(setup, { by: 'benchmark', judgedAgainst: rootId });
      return verdictFor(setup.moduleFile('candidate'), 0.5);
    });
    const record = await setup.run(1);
    expect(record.status, record.reason).toBe('applied');
    expect(setup.judged).toEqual([rootId, otherId]);
    const entries = setup.archive.ledger.entries();
    expect(entries.map((e) => [e.action, e.attemptId])).toEqual([
      ['apply', otherId],
      ['apply', record.id],
    ]);
    expect(entries[1]!.reason).toContain(`beat attempt ${otherId}`);
    setup.archive.close();
  });

  it('is trialled live against whatever is live when its turn comes, judged once', async () => {
    const setup = await runnerSetup('live-ab');
    const rootId = setup.roots.get('step')!;
    let otherId = 0;
    setup.setJudge(async () => {
      otherId = await anotherWinnerGoesLive(setup, { by: 'trial' });
      return verdictFor(setup.moduleFile('candidate'), 0.8);
    });
    const record = await setup.run(1);
    expect(record.status, record.reason).toBe('applied');
    expect(setup.judged).toEqual([rootId]);
    expect(record.reason).toMatch(new RegExp(`^won its A/B trial against attempt ${otherId} `));
    expect(setup.live.incumbents.get('step')!.attemptId).toBe(record.id);
    setup.archive.close();
  });

  it('is not tried live when the sandbox finds it clearly slower', async () => {
    const setup = await runnerSetup('live-ab');
    setup.setJudge(async () => verdictFor(setup.moduleFile('candidate'), 1.5));
    const record = await setup.run(1);
    expect(record.status).toBe('passed');
    expect(record.reason).toMatch(/^not tried live: clearly slower than the incumbent in the sandbox: target \[128x128\] ratio 1\.500/);
    expect(setup.lat.history).toEqual([]);
    setup.archive.close();
  });
});

describe('the screening benchmark', () => {
  it('runs with gauntlet.screenSamples and still stops a kernel that skips work at the held-out size', async () => {
    const config = resolveConfig({
      archive: { path: path.join(root, 'unused.sqlite') },
      lattice: { extents: [160, 160] },
      gauntlet: { targetExtents: [128, 128], heldOutExtents: [97, 89], cacheDir: path.join(root, 'cache') },
    });
    expect(config.gauntlet).toMatchObject({ speedJudge: 'live-ab', screenSamples: 5, holdLive: false });
    const reference = kernelModulePath('reference');
    const incumbent: Incumbent = { slot: 'step', attemptId: 1, moduleId: 1, modulePath: reference, moduleSha256: fileSha256(reference), speedup: 1 };
    const resources = { pool: undefined, sandboxQueue: { run: <T>(work: () => Promise<T>) => work() } };
    const cheat = readFileSync(path.resolve('tests/fixtures/hostile/skips-held-out-size.cpp'), 'utf8');
    const stopped = await judgeCandidate(config, resources, cheat, 'step', incumbent);
    expect(stopped.verdict.failedGate, stopped.verdict.gates.at(-1)?.reason).toBe('bench');
    const honest = await judgeCandidate(config, resources, readFileSync(path.resolve('tests/fixtures/variants/rows-fast.cpp'), 'utf8'), 'step', incumbent);
    expect(honest.verdict.accepted).toBe(true);
    expect(honest.verdict.benchmark!.lattices.map((lattice) => lattice.samples)).toEqual([5, 5]);
  }, 120_000);

  const interruptedVerdict: GauntletVerdict = {
    interrupted: true,
    accepted: false,
    improves: false,
    failedGate: null,
    gates: [],
    safetyScore: null,
    compileCached: null,
    isolation: [],
    benchmark: null,
    seconds: 0,
  };

  it('times the incumbent on 3 samples, stops it early and reuses its times only when the benchmark just screens', async () => {
    const asked: CandidateOptions[] = [];
    const resources = {
      pool: undefined,
      sandboxQueue: { run: <T>(work: () => Promise<T>) => work() },
      evaluate: async (options: CandidateOptions) => {
        asked.push(options);
        return interruptedVerdict;
      },
    };
    const reference = kernelModulePath('reference');
    const incumbent: Incumbent = { slot: 'step', attemptId: 1, moduleId: 1, modulePath: reference, moduleSha256: fileSha256(reference), speedup: 1 };
    for (const speedJudge of ['live-ab', 'benchmark'] as const) {
      const config = resolveConfig({ gauntlet: { speedJudge }, archive: { path: path.join(root, 'unused.sqlite') } });
      await judgeCandidate(config, resources, 'source', 'step', incumbent);
    }
    expect(
      asked.map(({ benchSamples, incumbentSamples, incumbentStopRatio, reuseIncumbentTimes }) => ({
        benchSamples,
        incumbentSamples,
        incumbentStopRatio,
        reuseIncumbentTimes,
      })),
    ).toEqual([
      { benchSamples: 5, incumbentSamples: 3, incumbentStopRatio: 0.5, reuseIncumbentTimes: true },
      { benchSamples: 9, incumbentSamples: undefined, incumbentStopRatio: undefined, reuseIncumbentTimes: undefined },
    ]);
    // The default live lattice, 4096^2: a sandbox run there checks and times 2^24 cells.
    expect(asked.map((options) => options.sandboxTimeoutMs)).toEqual([167_773, 167_773]);
    expect(sandboxTimeoutMs(128 * 128)).toBe(60_000);
  });

  it("gives the gauntlet the live lattice's r^2, unless the benchmark target has other dimensions", async () => {
    const asked: CandidateOptions[] = [];
    const resources = {
      pool: undefined,
      sandboxQueue: { run: <T>(work: () => Promise<T>) => work() },
      evaluate: async (options: CandidateOptions) => {
        asked.push(options);
        return interruptedVerdict;
      },
    };
    const reference = kernelModulePath('reference');
    const incumbent: Incumbent = { slot: 'step', attemptId: 1, moduleId: 1, modulePath: reference, moduleSha256: fileSha256(reference), speedup: 1 };
    const archive = { path: path.join(root, 'unused.sqlite') };
    await judgeCandidate(resolveConfig({ lattice: { dt: 0.6 }, archive }), resources, 'source', 'step', incumbent);
    await judgeCandidate(resolveConfig({ lattice: { dt: 0.5 }, gauntlet: { targetExtents: [33, 33, 33] }, archive }), resources, 'source', 'step', incumbent);
    expect(asked.map((options) => options.liveCourant2)).toEqual([0.6 * 0.6, undefined]);
    // The differential's long call may be as long as the live runner's longest batch.
    expect(asked.map((options) => options.maxBatchSteps)).toEqual([64, 64]);
  });
});

describe('trial configuration', () => {
  it('names the key, the value and the limit when the slower cap is below one window', () => {
    expect(() => resolveConfig({ trial: { window: '2s', maxSlowerLive: '1s' } })).toThrow(
      'trial.maxSlowerLive = "1000ms": must be at least trial.window (2000 ms)',
    );
    expect(() => resolveConfig({ gauntlet: { speedJudge: 'sandbox' } })).toThrow('gauntlet.speedJudge = "sandbox": must be one of "live-ab", "benchmark"');
    expect(resolveConfig({}).trial).toEqual({ windowMs: 1000, minSteps: 3, maxPairs: 12, minGain: 0.03, maxSlowerLiveMs: 4000 });
  });
});

describe("a benchmark-judged change given the incumbent's window (the warm start)", () => {
  it('measures no window before the swap, judges the watch window against the given one, and runs the canary it asks for', async () => {
    const windows = new Windows(() => 1.5);
    const { lat, archive, live, candidateId, incumbent } = liveSetup(windows);
    const incumbentWindow = { steps: 4, kernelNs: 4e6, wallMs: 1000, mlups: Windows.alone(incumbent.moduleId) };
    const outcome = await live.change({
      ...trialRequest(candidateId),
      action: 'warm-start',
      speedJudge: { by: 'benchmark', judgedAgainst: incumbent.attemptId },
      incumbentWindow,
      canarySteps: 2,
    });
    expect(outcome.status).toBe('applied');
    if (outcome.status !== 'applied') return;
    // Only the watch window was measured (the fake labels it by the incumbent LiveChanges holds, the candidate by then).
    expect(windows.order).toHaveLength(1);
    expect(lat.live.step).toBe(2);
    expect(outcome.incumbentMlups).toBe(incumbentWindow.mlups);
    expect(outcome.speedup).toBeCloseTo(2 * 1.5, 12);
    expect(lat.canaries).toEqual([2]);
    expect(archive.ledger.entries().map((entry) => entry.action)).toEqual(['warm-start']);
    archive.close();
  });
});

describe('trialLossSeconds', () => {
  it('charges the candidate live time by the share of throughput it fell short, and nothing for a faster candidate', () => {
    const slower = [
      { incumbentMlups: 100, candidateMlups: 70 },
      { incumbentMlups: 100, candidateMlups: 90 },
    ];
    expect(trialLossSeconds({ pairs: slower, candidateLiveMs: 4000 })).toBeCloseTo(4 * 0.2, 10);
    expect(trialLossSeconds({ pairs: [{ incumbentMlups: 100, candidateMlups: 150 }], candidateLiveMs: 2000 })).toBe(0);
    expect(trialLossSeconds({ pairs: [], candidateLiveMs: 0 })).toBe(0);
  });
});
