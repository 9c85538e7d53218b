// The engine against the real native core, gauntlet and archive, on a small
// lattice (160 x 160 f64). Generators here are real generators of the
// contract that propose fixed sources, so the engine, the gauntlet, the swap
// and the archive under test all run for real.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive, machineFingerprint, withHash } from '../dist/ts/archive/index.js';
import type { EngineConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import type { EngineDeps } from '../dist/ts/engine/engine-setup.js';
import type { WarmStartReport } from '../dist/ts/engine/events.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { type WindowMeasure, fileSha256, liveSpeedup } from '../dist/ts/engine/live-changes.js';
import { measureSlot } from '../dist/ts/engine/watch.js';
import { kernelModulePath } from '../dist/native/loader.js';
import { GeneratorError, type CandidateProposal, type Generator } from '../dist/ts/generators/types.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { scriptedBenchmark } from './helpers/scripted-benchmark.js';
import { until } from './helpers/until.js';
import { type ConfigOverrides, engineTestConfig } from './helpers/engine-config.js';
import { rememberStepModule } from './helpers/remembered-module.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-engine-test-'));
const fixture = (name: string) => readFileSync(path.resolve('tests/fixtures', name), 'utf8');
const REFERENCE_SHA256 = fileSha256(kernelModulePath('reference'));

/**
 * The suite's engine: real gauntlet runs, whose benchmark's speed each test
 * gives (scriptedBenchmark), like the live windows' (windowsOf).
 */
function testConfig(name: string, overrides: ConfigOverrides = {}): EngineConfig {
  return engineTestConfig(
    root,
    name,
    {
      watch: { window: '700ms', minSteps: 50 },
      trial: { window: '150ms', minSteps: 20 },
      gauntlet: { benchSteps: 8, benchSamples: 15 },
      breaker: { failures: 3, backoff: '300ms', maxBackoff: '2s' },
    },
    overrides,
  );
}

/** Proposes one fixed source every time: a real generator of the contract, with nothing to search. */
// The fixtures are the project's own test kernels, so every Engine here trusts its generator's
// sources (trustGeneratedSources): these tests exercise the in-process path, canary included.

/** Fails `failures` times with a network error, then proposes `source`. */
class FlakyGenerator implements Generator {
  readonly name = 'flaky';
  calls = 0;
  constructor(
    private readonly failures: number,
    private readonly source: string,
  ) {}
  async propose(): Promise<CandidateProposal> {
    this.calls += 1;
    if (this.calls <= this.failures) throw new GeneratorError('network', `connection refused (call ${this.calls})`);
    return { generator: this.name, operator: 'fixture', source: this.source, genome: null, prompt: null, costUsd: 0 };
  }
}

/** Proposes `sources` in turn, `candidatesPerAttempt` per attempt: a generator whose children the engine must choose among. */
class PoolGenerator implements Generator {
  readonly name = 'pool';
  proposals = 0;
  constructor(
    readonly candidatesPerAttempt: number,
    private readonly sources: readonly string[],
  ) {}
  async propose(): Promise<CandidateProposal> {
    const source = this.sources[this.proposals % this.sources.length]!;
    this.proposals += 1;
    return { generator: this.name, operator: 'fixture', source, genome: null, prompt: null, costUsd: 0 };
  }
}

/**
 * Live windows that step the lattice for real but report the throughput
 * the test gives each module by name: the trial's and the watch window's
 * decisions are the test's, not the machine's load.
 */
function windowsOf(lat: Lattice, mlupsByName: Record<string, number>): WindowMeasure {
  return async (slot, options) => {
    const window = await measureSlot(lat, slot, options);
    const name = lat.slots()[slot].live.name;
    const mlups = mlupsByName[name];
    if (mlups === undefined) throw new Error(`windowsOf: the test gives no throughput for module ${name}`);
    return { ...window, mlups };
  };
}

/** An engine on `lat` whose generator proposes the fixture `name`, trusted, improving only when asked. */
function fixtureEngine(lat: Lattice, config: EngineConfig, name: string, deps: EngineDeps = {}): Engine {
  return new Engine(lat, config, { generator: new FixtureGenerator(fixture(name)), autoImprove: false, trustGeneratedSources: true, ...deps });
}

const lattices: Lattice[] = [];
function lattice(config: EngineConfig): Lattice {
  const lat = createMainLattice(config.lattice);
  lattices.push(lat);
  return lat;
}

afterAll(() => {
  for (const lat of lattices) lat.close();
  rmSync(root, { recursive: true, force: true });
});

describe('liveSpeedup', () => {
  const window = (mlups: number) => ({ steps: 10, kernelNs: 1e6, wallMs: 1, mlups });

  it("is the incumbent's speedup times the live ratio of the windows around the swap", () => {
    expect(liveSpeedup(2, window(100), window(150))).toBeCloseTo(3, 12);
    expect(liveSpeedup(1, window(80), window(76))).toBeCloseTo(0.95, 12);
  });

  it('is null when either window measured no throughput', () => {
    expect(liveSpeedup(2, window(0), window(150))).toBeNull();
    expect(liveSpeedup(2, window(100), window(0))).toBeNull();
  });
});

describe('Engine', () => {
  it('applies a real faster kernel: gauntlet, canary, live A/B trial, archive and ledger', async () => {
    const config = testConfig('apply');
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'variants/rows-fast.cpp', {
      evaluate: scriptedBenchmark(0.5),
      measureWindow: windowsOf(lat, { 'rows-fast': 1000, reference: 100 }),
    });
    const phases: string[] = [];
    const applied: unknown[] = [];
    engine.on('attempt-phase', (report) => phases.push(report.phase));
    engine.on('applied', (entry) => applied.push(entry));
    await engine.start();
    const id = await engine.attemptImprovement();
    const record = await engine.attemptFinished(id);
    expect(record.status, record.reason).toBe('applied');
    expect(record.gates.map((gate) => gate.passed)).toEqual([true, true, true, true, true, true, true]);
    expect(record.benchRatio).toBe(0.5);
    // What the trial measured live (1000 over 100 MLUPS) replaces the sandbox's estimate (1 / 0.5).
    expect(record.speedup).toBeCloseTo(10, 9);
    expect(record.liveMlups).toBeGreaterThan(0);
    expect(lat.slots().step.live.name).toBe('rows-fast');
    expect(phases).toEqual(['selecting', 'generating', 'gauntlet', 'canary', 'trial', 'done']);
    expect(record.reason).toMatch(
      /^won its A\/B trial against attempt \d+ \(.*\): candidate\/incumbent \S+ \[\S+, \S+\] over \d+ pairs: faster by more than 3\.0%$/,
    );
    expect(engine.getImprovementStatus(id)).toMatchObject({ id, phase: 'done', status: 'applied', generator: 'fixture' });
    // The readout slot stays on the reference unless a generator can write readout kernels.
    await expect(engine.attemptImprovement({ slot: 'readout' })).rejects.toThrow('slot = "readout": the fixture generator writes kernels only for "step"');
    // The sandbox run did not hold the lattice (gauntlet.holdLive is off by default): the trial measured it live.
    expect(lat.paused).toBe(false);
    const stepBefore = lat.stepCount;
    await until(() => lat.stepCount > stepBefore);
    const summary = await engine.stop();
    expect(summary).toMatchObject({ attempts: 1, applied: 1, rolledBack: 0, heldSeconds: 0 });
    expect(summary.byStatus.applied).toBe(1);
    expect(summary.liveModules.step).toMatchObject({ name: 'rows-fast', attemptId: id });
    expect(summary.maxEnergyDrift).toBeLessThan(1e-9);
    expect(summary.baselineMlups).toBeGreaterThan(0);
    expect(summary.finalMlups).toBeGreaterThan(0);
    expect(lat.running).toBe(false);

    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'applied', moduleSha256: record.moduleSha256 });
      const entries = archive.ledger.entries();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        action: 'apply',
        slot: 'step',
        attemptId: id,
        moduleSha256: record.moduleSha256,
        previousModuleSha256: REFERENCE_SHA256,
      });
      expect(entries[0]!.atStep).toBeGreaterThan(0);
      expect(entries[0]!.reason).toMatch(/^passed the sandbox against attempt \d+: target \[128x128\] .*; won its A\/B trial against attempt \d+/);
      expect(applied).toEqual(entries);
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });

  // Each warm start has an archive of its own, seeded as an applied rows-fast leaves it: remembered as the step slot's best.
  it('warm-starts the remembered best module on a matching machine at once (its re-verification follows in the background)', async () => {
    const config = testConfig('warm-start', { archive: { warmStart: true } });
    const id = await rememberStepModule(config, await machineFingerprint(), fixture('variants/rows-fast.cpp'));
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'variants/reference-copy.cpp');
    const warm = new Promise<WarmStartReport>((resolve) => engine.once('warm-start', resolve));
    await engine.start();
    const report = await warm;
    expect(report, report.reason).toMatchObject({ slot: 'step', outcome: 'applied', attemptId: id });
    expect(lat.slots().step.live.name).toBe('rows-fast');
    await engine.stop();
    const archive = Archive.open(config.archive.path);
    try {
      const last = archive.ledger.entries().at(-1)!;
      expect(last).toMatchObject({ action: 'warm-start', slot: 'step', attemptId: report.attemptId, previousModuleSha256: REFERENCE_SHA256 });
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });

  it('does not trust a module remembered on another machine, and says why', async () => {
    const config = testConfig('untrusted', { archive: { warmStart: true } });
    const elsewhere = withHash({ ...(await machineFingerprint()), cpuModel: 'Some Other CPU' });
    const id = await rememberStepModule(config, elsewhere, fixture('variants/rows-fast.cpp'));
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'variants/reference-copy.cpp');
    const warm = new Promise<WarmStartReport>((resolve) => engine.once('warm-start', resolve));
    await engine.start();
    const report = await warm;
    expect(report).toMatchObject({ slot: 'step', outcome: 'untrusted', attemptId: id });
    expect(report.reason).toMatch(/cpuModel/);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    await engine.stop();
  });

  // slow-at-live-size.cpp is rows-fast everywhere except at 160 x 160, this
  // lattice's size, where it also recomputes each step into the scratch
  // level 32 times: the gauntlet (128 x 128 and 97 x 89) sees a kernel
  // about 7x faster than the reference, the live lattice a slower one.
  it('does not apply a kernel that loses its live A/B trial: the incumbent stays live, the ledger records the trial', async () => {
    const config = testConfig('trial-lost');
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'engine/slow-at-live-size.cpp', {
      evaluate: scriptedBenchmark(0.5),
      measureWindow: windowsOf(lat, { 'slow-at-160': 10, reference: 100 }),
    });
    await engine.start();
    const record = await engine.attemptFinished(await engine.attemptImprovement());
    expect(record.gates.every((gate) => gate.passed)).toBe(true);
    expect(record.status).toBe('passed');
    expect(record.reason).toMatch(/^not applied: it lost its A\/B trial against attempt \d+ \(.*\): candidate\/incumbent 0\.\d+ .*; it stepped \[\d+, \d+\)/);
    // What the trial measured live replaces the sandbox's estimate.
    expect(record.speedup).toBeCloseTo(0.1, 9);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    const summary = await engine.stop();
    expect(summary).toMatchObject({ applied: 0, rolledBack: 0, heldSeconds: 0 });
    const archive = Archive.open(config.archive.path);
    try {
      const entries = archive.ledger.entries();
      expect(entries.map((entry) => [entry.action, entry.attemptId, entry.previousModuleSha256])).toEqual([['trial', record.id, REFERENCE_SHA256]]);
      expect(entries[0]!.reason).toContain(record.reason!);
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });

  it('with the held sandbox benchmark deciding, rolls back automatically when the live throughput regresses after the swap', async () => {
    const config = testConfig('rollback', { gauntlet: { speedJudge: 'benchmark', holdLive: true } });
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'engine/slow-at-live-size.cpp', {
      evaluate: scriptedBenchmark(0.4),
      measureWindow: windowsOf(lat, { 'slow-at-160': 10, reference: 100 }),
    });
    const rolledBack: unknown[] = [];
    engine.on('rolled-back', (entry) => rolledBack.push(entry));
    await engine.start();
    const id = await engine.attemptImprovement();
    const record = await engine.attemptFinished(id);
    expect(record.gates.every((gate) => gate.passed)).toBe(true);
    expect(record.benchRatio).toBe(0.4);
    expect(record.status).toBe('rolled-back');
    expect(record.reason).toMatch(
      /^live throughput .* MLUPS is .*% below the incumbent's .* MLUPS measured before the swap \(maxDegradation 5\.0%\); back live after the rollback the incumbent measured .* MLUPS, confirming the regression$/,
    );
    expect(lat.slots().step.live.path).not.toBe(record.modulePath);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    const summary = await engine.stop();
    expect(summary).toMatchObject({ applied: 1, rolledBack: 1 });
    // The lattice was held for the benchmark (gauntlet.holdLive) and runs again.
    expect(summary.heldSeconds).toBeGreaterThan(0);
    expect(summary.heldSeconds).toBeLessThan(summary.wallSeconds);
    expect(lat.paused).toBe(false);
    expect(summary.liveModules.step.moduleSha256).toBe(REFERENCE_SHA256);

    const archive = Archive.open(config.archive.path);
    try {
      const [apply, rollback] = archive.ledger.entries();
      expect(apply).toMatchObject({ action: 'apply', attemptId: id, moduleSha256: record.moduleSha256, previousModuleSha256: REFERENCE_SHA256 });
      expect(rollback).toMatchObject({
        action: 'rollback',
        attemptId: id,
        moduleSha256: REFERENCE_SHA256,
        previousModuleSha256: record.moduleSha256,
        reason: record.reason,
      });
      expect(rollback!.atStep).toBeGreaterThan(apply!.atStep);
      expect(rolledBack).toEqual([rollback]);
      expect(archive.get(id)!.status).toBe('rolled-back');
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });

  it('refuses a winner the canary finds wrong on the live state: nothing swapped, nothing in the ledger', async () => {
    // wrong-at-live-size.cpp is rows-fast except at 160 x 160, where it scales
    // every new value by 1 + 1e-7: right on every lattice the gauntlet tries.
    const config = testConfig('canary');
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'engine/wrong-at-live-size.cpp', { evaluate: scriptedBenchmark(0.5) });
    await engine.start();
    const record = await engine.attemptFinished(await engine.attemptImprovement());
    expect(record.gates.every((gate) => gate.passed)).toBe(true);
    expect(record.status).toBe('failed');
    expect(record.reason).toMatch(/^canary: after 20 steps on the live state the largest difference from the incumbent is \S+ \(tolerance 1e-9\)$/);
    expect(fileSha256(lat.slots().step.live.path)).toBe(REFERENCE_SHA256);
    await engine.stop();
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.ledger.entries()).toEqual([]);
    } finally {
      archive.close();
    }
  });

  it('opens the circuit breaker on repeated generator errors, keeps the loop and the simulation running, closes on a success', async () => {
    const config = testConfig('breaker', { budget: { maxAttempts: 4 } });
    const lat = lattice(config);
    const generator = new FlakyGenerator(3, fixture('variants/slow.cpp'));
    const engine = new Engine(lat, config, { generator, trustGeneratedSources: true, evaluate: scriptedBenchmark(1.5) });
    const events: string[] = [];
    const stepsAt: number[] = [];
    engine.on('circuit-open', (e) => {
      events.push(`open ${e.kind} ${e.failures} ${e.backoffMs}`);
      stepsAt.push(lat.stepCount);
    });
    engine.on('circuit-closed', (e) => {
      events.push(`closed ${e.kind}`);
      stepsAt.push(lat.stepCount);
    });
    engine.on('budget-exhausted', (e) => events.push(`budget ${e.budget}`));
    const finished: string[] = [];
    engine.on('attempt-finished', (record) => finished.push(`${record.id} ${record.status} ${record.generator}`));
    await engine.start();
    await engine.whenStopped();
    expect(events).toEqual(['open generator:network 3 300', 'closed generator:network', 'budget maxAttempts']);
    expect(generator.calls).toBe(4);
    // The simulation ran on while the breaker was open.
    expect(stepsAt[1]).toBeGreaterThan(stepsAt[0]!);
    const summary = engine.summary();
    expect(summary.attempts).toBe(4);
    expect(summary.byStatus).toMatchObject({ failed: 3, passed: 1 });
    expect(summary.circuitOpenings).toBe(1);
    expect(summary.steps).toBeGreaterThan(0);
    const archive = Archive.open(config.archive.path);
    try {
      const records = archive.list({ slot: 'step' }).filter((r) => r.parentId !== null);
      expect(records.map((r) => r.status)).toEqual(['failed', 'failed', 'failed', 'passed']);
      expect(records[0]!.reason).toBe('generator network: connection refused (call 1)');
      // The slow kernel is accepted by every gate but the benchmark screens it out: not tried live.
      expect(records[3]!.reason).toMatch(/^not tried live: clearly slower than the incumbent in the sandbox: target \[128x128\] ratio 1\.500 \(slower/);
    } finally {
      archive.close();
    }
  });

  it('resumes after kill -9 mid-attempt: the interrupted attempt is marked and the loop goes on with no attempt lost', async () => {
    const config = testConfig('kill');
    const overrides = {
      archive: { path: config.archive.path, warmStart: false },
      lattice: { extents: [160, 160] },
      gauntlet: { targetExtents: [128, 128], heldOutExtents: [97, 89], benchSteps: 8, benchSamples: 15, cacheDir: config.gauntlet.cacheDir },
      log: { file: config.log.file },
    };
    const sourceFile = path.resolve('tests/fixtures/variants/slow.cpp');
    const child = spawn(process.execPath, ['tests/fixtures/engine/engine-child.mjs', JSON.stringify(overrides), sourceFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let killedDuring: { id: number; phase: string } | null = null;
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split('\n').slice(0, -1)) {
          const report = JSON.parse(line) as { id: number; phase: string };
          if (report.phase === 'gauntlet' && report.id > 0 && killedDuring === null) {
            killedDuring = report;
            child.kill('SIGKILL');
          }
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited with ${code} ${signal}`))));
    });
    const interruptedId = killedDuring!.id;

    const before = Archive.open(config.archive.path);
    expect(before.get(interruptedId)!.status).toBe('pending');
    before.close();

    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'variants/slow.cpp', { evaluate: scriptedBenchmark(1.5) });
    await engine.start();
    const interrupted = engine.getImprovementStatus(interruptedId)!;
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.reason).toMatch(/interrupted/);
    const next = await engine.attemptImprovement();
    expect(next).toBe(interruptedId + 1);
    expect((await engine.attemptFinished(next)).status).toBe('passed');
    await engine.stop();

    const archive = Archive.open(config.archive.path);
    try {
      const attempts = archive.list({ slot: 'step' }).filter((r) => r.parentId !== null);
      expect(attempts.map((r) => [r.id, r.status])).toEqual([
        [interruptedId, 'interrupted'],
        [next, 'passed'],
      ]);
    } finally {
      archive.close();
    }
  });

  it('judges only children the archive has not seen, and says when a generator proposes nothing new', async () => {
    const config = testConfig('breed');
    const lat = lattice(config);
    const archive = Archive.open(config.archive.path);
    const rowsFast = fixture('variants/rows-fast.cpp');
    const copy = fixture('variants/reference-copy.cpp');
    const breeding = new PoolGenerator(3, [rowsFast, copy]);
    const engine = new Engine(lat, config, { generator: breeding, archive, autoImprove: false, trustGeneratedSources: true });
    try {
      await engine.start();
      const root = archive.list({ slot: 'step' })[0]!;
      archive.insertAttempt({
        parentId: root.id,
        slot: 'step',
        generator: 'fixture',
        operator: 'fixture',
        genome: null,
        prompt: null,
        source: rowsFast,
        status: 'rejected',
      });
      const judged = await engine.attemptFinished(await engine.attemptImprovement({ parentId: root.id }));
      // rows-fast is archived: of the twelve proposals (4 per child wanted), only one is new, and it is the one judged.
      expect(breeding.proposals).toBe(12);
      expect(judged.source).toBe(copy);
      expect(judged.gates.length, judged.reason).toBeGreaterThan(0);
      expect(archive.list({ slot: 'step' }).filter((record) => record.source === copy)).toHaveLength(1);

      const stale = new PoolGenerator(2, [rowsFast, copy]);
      const second = new Engine(lat, config, { generator: stale, archive, autoImprove: false, trustGeneratedSources: true });
      await engine.stop();
      await second.start();
      const exhausted = await second.attemptFinished(await second.attemptImprovement({ parentId: root.id }));
      expect(stale.proposals).toBe(8);
      expect(exhausted).toMatchObject({ status: 'failed', gates: [] });
      expect(exhausted.reason).toBe(`generator exhausted: all 8 children proposed from attempt ${root.id} are in the archive already`);
      await second.stop();
    } finally {
      if (engine.running) await engine.stop();
      archive.close();
    }
  });

  it('rolls back on request, records it in the ledger and the archive, and refuses when nothing is left to undo', async () => {
    const config = testConfig('manual');
    const lat = lattice(config);
    const engine = fixtureEngine(lat, config, 'variants/rows-fast.cpp', {
      evaluate: scriptedBenchmark(0.5),
      measureWindow: windowsOf(lat, { 'rows-fast': 1000, reference: 100 }),
    });
    await engine.start();
    const id = await engine.attemptImprovement();
    expect((await engine.attemptFinished(id)).status).toBe('applied');
    const { outcome, entry } = await engine.rollback('step', 'requested by the test');
    expect(outcome).toMatchObject({ slot: 'step', fromName: 'rows-fast', toName: 'reference' });
    expect(entry).toMatchObject({
      action: 'rollback',
      attemptId: id,
      moduleSha256: REFERENCE_SHA256,
      atStep: outcome.appliedAtStep,
      reason: 'requested by the test',
    });
    await expect(engine.rollback('step')).rejects.toThrow('rollback("step"): nothing to roll back, reference is live and is the last-known-good module');
    const summary = await engine.stop();
    expect(summary).toMatchObject({ applied: 1, rolledBack: 1, heldSeconds: 0 });
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'rolled-back', reason: 'requested by the test' });
      expect(archive.ledger.entries().map((e) => e.action)).toEqual(['apply', 'rollback']);
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });
});
