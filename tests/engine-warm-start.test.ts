// Warm start with an injected gauntlet (EngineDeps.evaluate): a remembered
// module goes live at once and is re-verified in the background; one that
// fails is rolled back, marked, and not tried by the next run; a module
// remembered under other build flags is reported and not used. The module
// itself is built for real by the hardened compile, into the test's cache.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';
import { Archive, machineFingerprint, withHash } from '../dist/ts/archive/index.js';
import type { LedgerEntry } from '../dist/ts/archive/types.js';
import { resolveConfig, type EngineConfig } from '../dist/ts/engine/config.js';
import { Engine, type EngineDeps } from '../dist/ts/engine/engine.js';
import type { WarmStartReport } from '../dist/ts/engine/events.js';
import type { EconomyTransition } from '../dist/ts/engine/economy.js';
import { fileSha256 } from '../dist/ts/engine/live-changes.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { IDLE_REVERIFICATION_TIMEOUT_MS, reverificationConfig } from '../dist/ts/engine/warm-start.js';
import { type WindowOptions, measureSlot } from '../dist/ts/engine/watch.js';
import { attemptCostKey } from '../dist/ts/engine/attempt-costs.js';
import type { CandidateOptions } from '../dist/ts/gauntlet/options.js';
import type { GateVerdict } from '../dist/ts/gauntlet/types.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { engineTestConfig } from './helpers/engine-config.js';
import { verdict } from './helpers/verdicts.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { ScriptedGauntlet } from './helpers/scripted-gauntlet.js';
import { rememberStepModule } from './helpers/remembered-module.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-warm-test-'));
const fixture = (name: string) => readFileSync(path.resolve('tests/fixtures/variants', name), 'utf8');
const rowsFast = fixture('rows-fast.cpp');
const REFERENCE_SHA256 = fileSha256(kernelModulePath('reference'));
const lattices: Lattice[] = [];

afterAll(() => {
  for (const lat of lattices) lat.close();
  rmSync(root, { recursive: true, force: true });
});

/** The stop's abort settles what the gauntlet still holds as interrupted. */
const interruptedOnAbort = () => verdict({ interrupted: true, accepted: false });

function testConfig(name: string): EngineConfig {
  return engineTestConfig(root, name, {
    archive: { warmStart: true },
    // A cache of the test's own: the module it remembers is built into it, and one test removes it from there.
    gauntlet: { cacheDir: path.join(root, name, 'cache') },
    breaker: { failures: 3, backoff: '300ms', maxBackoff: '2s' },
  });
}

function gate(name: GateVerdict['gate'], passed = true, reason = ''): GateVerdict {
  return { gate: name, passed, reason, details: {}, seconds: 0 };
}

/** Resolves with the first 'warm-start' report whose outcome is one of `outcomes`. */
function warmStartReport(engine: Engine, ...outcomes: WarmStartReport['outcome'][]): Promise<WarmStartReport> {
  return new Promise((resolve) => {
    const listener = (report: WarmStartReport) => {
      if (!outcomes.includes(report.outcome)) return;
      engine.off('warm-start', listener);
      resolve(report);
    };
    engine.on('warm-start', listener);
  });
}

/** The engine on a new lattice; `measured` lists the step module live at each throughput window the engine opens. */
function engineWith(
  config: EngineConfig,
  gauntlet: Pick<ScriptedGauntlet, 'evaluate'>,
  autoImprove: boolean,
  deps: EngineDeps = {},
): { engine: Engine; lat: Lattice; measured: string[] } {
  const lat = createMainLattice(config.lattice);
  lattices.push(lat);
  const measured: string[] = [];
  const engine = new Engine(lat, config, {
    generator: new FixtureGenerator(fixture('reference-copy.cpp')),
    autoImprove,
    trustGeneratedSources: true,
    evaluate: gauntlet.evaluate,
    measureWindow: (slot, options) => {
      measured.push(lat.slots().step.live.name);
      return measureSlot(lat, slot, options);
    },
    ...deps,
  });
  return { engine, lat, measured };
}

/** The key the engine keeps `lat`'s baselines under on this machine. */
async function baselineKey(config: EngineConfig, lat: Lattice) {
  return attemptCostKey(lat, config.lattice.threads > 0 ? config.lattice.threads : os.availableParallelism(), await machineFingerprint());
}

describe('warm start', () => {
  it('puts the remembered module live at once, rebuilding it when the cache lost it, and re-verifies it while attempts go on', async () => {
    const config = testConfig('at-once');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast, true);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine, lat } = engineWith(config, gauntlet, true);
    const applied = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    const verified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    const report = await applied;
    expect(report, report.reason).toMatchObject({ slot: 'step', outcome: 'applied', attemptId: id });
    expect(lat.slots().step.live.name).toBe('rows-fast');
    // The re-verification times the module against its own build (not the slow reference it replaced), and has no verdict yet.
    const reverification = await gauntlet.called(1);
    expect(reverification.source).toBe(rowsFast);
    expect(fileSha256(reverification.incumbent!)).toBe(fileSha256(lat.slots().step.live.path));
    expect(fileSha256(reverification.incumbent!)).not.toBe(REFERENCE_SHA256);
    // It checks correctness on a target of the held-out lattice's size, not the live size an attempt is screened on.
    expect(reverification.targetExtents).toEqual([97, 89]);
    // The improvement loop is not blocked meanwhile: an attempt reaches the gauntlet too.
    const attempt = await gauntlet.called(2);
    expect(attempt.source).toBe(fixture('reference-copy.cpp'));
    expect(attempt.targetExtents).toEqual([128, 128]);
    gauntlet.settleAll(verdict({ gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo'), gate('bench')] }));
    expect(await verified).toMatchObject({ slot: 'step', outcome: 'verified', attemptId: id });
    expect(lat.slots().step.live.name).toBe('rows-fast');
    await engine.stop();
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.ledger.entries().map((entry) => [entry.action, entry.attemptId])).toEqual([['warm-start', id]]);
      expect(archive.warmStart.remembered('step')?.attemptId).toBe(id);
    } finally {
      archive.close();
    }
  });

  it('with a baseline remembered for this machine and lattice, puts the remembered module live before measuring any window, and says where the baseline came from', async () => {
    const config = testConfig('remembered-baseline');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet();
    const { engine, lat, measured } = engineWith(config, gauntlet, false);
    const key = await baselineKey(config, lat);
    let archive = Archive.open(config.archive.path);
    const remembered = archive.baselines.record({ ...key, moduleSha256: REFERENCE_SHA256, mlups: 12.5, steps: 4 });
    archive.close();
    const applied = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    await engine.start();
    expect(await applied).toMatchObject({ slot: 'step', outcome: 'applied', attemptId: id });
    // The reference was never measured: the first window the engine opened was the swapped module's watch window.
    expect(measured[0]).toBe('rows-fast');
    expect(measured).not.toContain('reference');
    const summary = await engine.stop();
    expect(summary.baselineMlups).toBe(12.5);
    expect(summary.baselineSource).toEqual({ kind: 'remembered', recordedAt: remembered.recordedAt });
    archive = Archive.open(config.archive.path);
    try {
      // The warm start's speedup is over the remembered figure, and the memory is not overwritten by a figure this run never measured.
      expect(archive.get(id)!.speedup).toBeCloseTo(archive.get(id)!.liveMlups! / 12.5, 9);
      expect(archive.baselines.latest(key, REFERENCE_SHA256)).toEqual(remembered);
    } finally {
      archive.close();
    }
  });

  it('starts backed off when the archive says the search converged with the remembered module live, and searches again once it is rolled back', async () => {
    const config = testConfig('converged');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine, lat } = engineWith(config, gauntlet, true);
    const key = await baselineKey(config, lat);
    let archive = Archive.open(config.archive.path);
    archive.convergence.record({
      ...key,
      slot: 'step',
      moduleSha256: archive.get(id)!.moduleSha256!,
      generator: 'fixture',
      expectedGainSeconds: 1.5,
      attemptCostSeconds: 10.35,
      ceiling: null,
      inCacheMlups: null,
      liveMlups: 0.001,
    });
    archive.close();
    const transitions: EconomyTransition[] = [];
    engine.on('economy', (transition) => transitions.push(transition));
    const applied = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    const rolledBack = warmStartReport(engine, 'rolled-back', 'verified');
    await engine.start();
    expect(await applied).toMatchObject({ slot: 'step', outcome: 'applied', attemptId: id });
    while (transitions.length === 0) await once(engine, 'sample');
    expect(transitions[0]).toMatchObject({ state: 'backed-off', expectedGainSeconds: 1.5, attemptCostSeconds: 10.35 });
    // The loop polls every 50 ms: eight samples 100 ms apart span many of its polls, and none starts an attempt.
    for (let i = 0; i < 8; i += 1) await once(engine, 'sample');
    expect(engine.summary().attempts).toBe(0);
    expect(gauntlet.calls).toHaveLength(1);
    // The re-verification fails: the module goes, and with it what the search converged on.
    const diverges = verdict({ accepted: false, failedGate: 'dojo', gates: [gate('patch'), gate('dojo', false, 'diverges on wave 17')] });
    gauntlet.settleAll(diverges);
    await gauntlet.called(2);
    gauntlet.settleAll(diverges);
    expect(await rolledBack).toMatchObject({ outcome: 'rolled-back', attemptId: id });
    expect(transitions[1]).toMatchObject({ state: 'searching', reason: 'resumed: the step kernel was rolled back' });
    // An attempt reaches the gauntlet.
    expect((await gauntlet.called(3)).source).toBe(fixture('reference-copy.cpp'));
    await engine.stop();
    archive = Archive.open(config.archive.path);
    try {
      // It ended searching: the convergence no longer holds and is forgotten.
      expect(archive.convergence.latest(key)).toBeNull();
    } finally {
      archive.close();
    }
  });

  it('rolls back and marks a module that fails re-verification, and the next run does not try it', async () => {
    const config = testConfig('fails');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const first = engineWith(config, gauntlet, false);
    const applied = warmStartReport(first.engine, 'applied');
    const rolledBack = warmStartReport(first.engine, 'rolled-back', 'verified');
    await first.engine.start();
    await applied;
    const diverges = verdict({
      accepted: false,
      failedGate: 'dojo',
      gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo', false, 'diverges on wave 17')],
    });
    // A failure at idle priority decides nothing: the same gauntlet runs again at the engine's, and that failure decides.
    expect((await gauntlet.called(1)).sandboxPriority).toBe('idle');
    gauntlet.settleAll(diverges);
    expect((await gauntlet.called(2)).sandboxPriority).toBe('normal');
    expect(first.lat.slots().step.live.name).toBe('rows-fast');
    gauntlet.settleAll(diverges);
    const report = await rolledBack;
    expect(report).toMatchObject({ slot: 'step', outcome: 'rolled-back', attemptId: id });
    expect(report.reason).toMatch(/re-verification failed: dojo: diverges on wave 17/);
    expect(fileSha256(first.lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    await first.engine.stop();

    let archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'rolled-back' });
      expect(archive.get(id)!.reason).toMatch(/re-verification failed/);
      expect(archive.warmStart.remembered('step')).toBeNull();
      expect(archive.ledger.entries().map((entry) => [entry.action, entry.attemptId])).toEqual([
        ['warm-start', id],
        ['rollback', id],
      ]);
    } finally {
      archive.close();
    }

    const again = new ScriptedGauntlet(interruptedOnAbort);
    const second = engineWith(config, again, false);
    const next = warmStartReport(second.engine, 'applied', 'rejected', 'untrusted', 'none');
    await second.engine.start();
    expect(await next).toMatchObject({ slot: 'step', outcome: 'none', attemptId: null });
    expect(again.calls).toEqual([]);
    expect(fileSha256(second.lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    await second.engine.stop();
    archive = Archive.open(config.archive.path);
    try {
      expect(archive.ledger.entries()).toHaveLength(2);
    } finally {
      archive.close();
    }
  });

  it("re-verifies at idle priority first, and runs the gauntlet again at the engine's when the idle run did not pass", async () => {
    const config = testConfig('idle-first');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine, lat } = engineWith(config, gauntlet, false);
    const applied = warmStartReport(engine, 'applied');
    const verified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    await applied;
    const idle = await gauntlet.called(1);
    expect(idle).toMatchObject({ source: rowsFast, sandboxPriority: 'idle', sandboxTimeoutMs: IDLE_REVERIFICATION_TIMEOUT_MS, liveExtents: [128, 128] });
    // Starved on a busy machine: cut at its wall-clock limit.
    gauntlet.settleAll(
      verdict({
        accepted: false,
        failedGate: 'sandbox',
        gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox', false, 'killed at the wall-clock limit of 30000 ms')],
      }),
    );
    const normal = await gauntlet.called(2);
    // The same gauntlet of the same source at the live size, with the judge's own limit.
    expect(normal).toMatchObject({ source: rowsFast, sandboxPriority: 'normal', liveExtents: [128, 128], targetExtents: idle.targetExtents });
    expect(normal.sandboxTimeoutMs).not.toBe(IDLE_REVERIFICATION_TIMEOUT_MS);
    gauntlet.settleAll(verdict({ gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo'), gate('bench')] }));
    expect(await verified).toMatchObject({ outcome: 'verified', attemptId: id });
    expect(lat.slots().step.live.name).toBe('rows-fast');
    await engine.stop();
    expect(gauntlet.calls).toHaveLength(2);
  });

  it('trusts a pass at idle priority: the gauntlet runs once', async () => {
    const config = testConfig('idle-pass');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine } = engineWith(config, gauntlet, false);
    const verified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    expect((await gauntlet.called(1)).sandboxPriority).toBe('idle');
    gauntlet.settleAll(verdict({ gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo'), gate('bench')] }));
    expect(await verified).toMatchObject({ outcome: 'verified', attemptId: id });
    await engine.stop();
    expect(gauntlet.calls).toHaveLength(1);
  });

  it("books the CPU of the re-verification's sandbox run to the run, not to an attempt", async () => {
    const config = testConfig('booked-apart');
    await rememberStepModule(config, await machineFingerprint(), rowsFast);
    let childCpuSeconds = 0;
    const evaluate = async (options: CandidateOptions) => {
      // 1 CPU-second of children ends before the sandbox's turn (the screen), 4 inside it (the runner and its workers).
      childCpuSeconds += 1;
      await options.sandboxQueue!.run(async () => {
        childCpuSeconds += 4;
      });
      return verdict({ gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo'), gate('bench')] });
    };
    const { engine } = engineWith(config, { evaluate }, false, { childCpuSeconds: () => childCpuSeconds });
    const verified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    expect(await verified).toMatchObject({ outcome: 'verified' });
    const summary = await engine.stop();
    // At economy.childCpuCost = 2 lattice-seconds per CPU-second; the attempts' cost stays the prior's, which no attempt measured.
    expect(summary.economy).toMatchObject({ reverificationCostSeconds: 8, attemptCostSource: { kind: 'prior' }, judgedAttemptCostSeconds: 10 });
  });

  it("goes live without a canary under the watchdog's differential check, and accounts the run on the engine's clock", async () => {
    const config = testConfig('account');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    let childCpuSeconds = 0;
    // The engine's clock: real time plus what the re-verification's sandbox turn adds, 7 s of it.
    let skewMs = 0;
    const evaluate = async (options: CandidateOptions) => {
      childCpuSeconds += 1;
      await options.sandboxQueue!.run(async () => {
        skewMs += 7_000;
        childCpuSeconds += 4;
      });
      return verdict({ gates: [gate('patch'), gate('static'), gate('compile'), gate('symbols'), gate('sandbox'), gate('dojo'), gate('bench')] });
    };
    const { engine, lat } = engineWith(config, { evaluate }, false, { childCpuSeconds: () => childCpuSeconds, now: () => performance.now() + skewMs });
    const verified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    expect(await verified).toMatchObject({ outcome: 'verified', attemptId: id });
    expect(lat.stepKernelWatched).toBe(true);
    const summary = await engine.stop();
    const { account } = summary;
    // Live before the re-verification's 7 s were added, and the swap's watch window ran.
    expect(account.warmLiveAtSeconds).not.toBeNull();
    expect(account.warmLiveAtSeconds!).toBeLessThan(summary.wallSeconds - 7);
    expect(account).toMatchObject({ canaries: 0, canarySeconds: 0, attempts: 0, heldSeconds: summary.heldSeconds, trialSeconds: 0 });
    expect(account.watchSeconds).toBeGreaterThan(0);
    expect(account.reverification!.cpuSeconds).toBe(4);
    expect(account.reverification!.wallSeconds).toBeGreaterThanOrEqual(7);
    expect(account.reverification!.wallSeconds).toBeLessThanOrEqual(summary.wallSeconds);
    // The screen's CPU-second outside the sandbox's turn is not told apart from the attempts'.
    expect(account.attemptCpuSeconds).toBe(1);
    // The watchdog checked the run (its first snapshot at least) and measured what that cost.
    expect(account.watchdogSeconds).toBeGreaterThan(0);
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.ledger.entries().map((entry) => [entry.action, entry.attemptId])).toEqual([['warm-start', id]]);
    } finally {
      archive.close();
    }
  });

  it('runs the canary before the swap when the lattice runs with no watchdog to check the step kernel', async () => {
    const config = testConfig('canary-unwatched');
    const id = await rememberStepModule(config, await machineFingerprint(), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine, lat } = engineWith(config, gauntlet, false);
    // Someone else runs the lattice, without a watchdog: the engine adopts the run as it is.
    const running = lat.run();
    expect(lat.stepKernelWatched).toBe(false);
    const applied = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    await engine.start();
    expect(await applied).toMatchObject({ outcome: 'applied', attemptId: id });
    const summary = await engine.stop();
    expect(summary.account.canaries).toBe(1);
    expect(summary.account.canarySeconds).toBeGreaterThan(0);
    expect(summary.account.watchdogSeconds).toBe(0);
    await lat.stop();
    await running;
  });

  it('without the canary, a remembered module wrong on the live lattice is rolled back by the watchdog and marked', async () => {
    const config = testConfig('watchdog-guards');
    // Does no work on live-sized lattices: only the watchdog's differential check tells it from the reference.
    const wrong = readFileSync(path.resolve('tests/fixtures/hostile/live-swap-levels.cpp'), 'utf8');
    const id = await rememberStepModule(config, await machineFingerprint(), wrong);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    let live: Lattice | null = null;
    const measureWindow = async (slot: 'step' | 'readout', options: WindowOptions) => {
      const window = await measureSlot(live!, slot, options);
      // The wrong module's watch window waits for the watchdog's verdict: a throughput verdict must not come first.
      if (fileSha256(live!.slots().step.live.path) !== REFERENCE_SHA256 && options.signal && !options.signal.aborted) await once(options.signal, 'abort');
      return window;
    };
    const { engine, lat } = engineWith(config, gauntlet, false, { measureWindow });
    live = lat;
    const rolledBack = new Promise<LedgerEntry>((resolve) => engine.once('rolled-back', resolve));
    await engine.start();
    const entry = await rolledBack;
    expect(entry).toMatchObject({ action: 'rollback', slot: 'step', attemptId: id, moduleSha256: REFERENCE_SHA256 });
    expect(entry.reason).toMatch(/watchdog rolled it back: differential/);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    const summary = await engine.stop();
    expect(summary.account.canaries).toBe(0);
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'rolled-back' });
      expect(archive.warmStart.remembered('step')).toBeNull();
      expect(archive.ledger.entries().map((e) => [e.action, e.attemptId])).toEqual([
        ['warm-start', id],
        ['rollback', id],
      ]);
    } finally {
      archive.close();
    }
  });

  it("re-verifies on the held-out size, in the live lattice's dimensions, never on a larger target than the configured one", () => {
    const at = (lattice: number[], targetExtents: number[], heldOutExtents: number[]) =>
      reverificationConfig(resolveConfig({ lattice: { extents: lattice }, gauntlet: { targetExtents, heldOutExtents } })).gauntlet.targetExtents;
    expect(at([4096, 4096], [], [1531, 1523])).toEqual([1531, 1523]);
    expect(at([256, 256, 256], [], [1531, 1523])).toEqual([133, 133, 133]);
    expect(at([64, 64], [], [1531, 1523])).toEqual([]);
    expect(at([4096, 4096], [128, 128], [1531, 1523])).toEqual([128, 128]);
  });

  it('reports a module remembered under other build flags and does not use it', async () => {
    const config = testConfig('flags');
    const here = await machineFingerprint();
    const id = await rememberStepModule(config, withHash({ ...here, buildFlags: [...here.buildFlags, '-ffast-math'] }), rowsFast);
    const gauntlet = new ScriptedGauntlet(interruptedOnAbort);
    const { engine, lat, measured } = engineWith(config, gauntlet, false);
    const report = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    await engine.start();
    const untrusted = await report;
    expect(untrusted).toMatchObject({ slot: 'step', outcome: 'untrusted', attemptId: id });
    expect(untrusted.reason).toMatch(/buildFlags differs/);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    expect(gauntlet.calls).toEqual([]);
    const summary = await engine.stop();
    // With no baseline remembered, it was measured first and kept for the next run on this machine and lattice.
    expect(measured[0]).toBe('reference');
    expect(summary.baselineSource).toEqual({ kind: 'measured' });
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.baselines.latest(await baselineKey(config, lat), REFERENCE_SHA256)?.mlups).toBe(summary.baselineMlups);
    } finally {
      archive.close();
    }
  });
});
