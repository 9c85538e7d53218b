// A run stops on time: the gauntlet's tools and runner are killed with their
// process groups when its signal aborts, and stop() ends the attempts in
// flight as interrupted. The engine's gauntlet is injected (EngineDeps.evaluate)
// with verdicts that arrive only when the test says so: nothing here is
// decided by a sleep or a race.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';
import { runMainJob, stopRequestAtMs } from '../dist/ts/cli/run-command.js';
import { FINAL_WINDOW_MS } from '../dist/ts/engine/scheduler.js';
import { Archive, INTERRUPTED_REASON } from '../dist/ts/archive/index.js';
import type { EngineConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { STOPPED_FIRST_REASON } from '../dist/ts/engine/live-changes.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { runConfined } from '../dist/ts/gauntlet/gatekeeper.js';
import { evaluateCandidate } from '../dist/ts/gauntlet/pipeline.js';
import { runSandbox, sandboxRunnerPath } from '../dist/ts/gauntlet/sandbox-run.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { engineTestConfig } from './helpers/engine-config.js';
import { passedGate, verdict, winningVerdict } from './helpers/verdicts.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { until } from './helpers/until.js';
import { ScriptedGauntlet } from './helpers/scripted-gauntlet.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-stop-test-'));
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
const lattices: Lattice[] = [];

afterAll(() => {
  for (const lat of lattices) lat.close();
  rmSync(root, { recursive: true, force: true });
});

/** The command lines of every process on the machine, as argument arrays. */
function commandLines(): string[][] {
  const lines: string[][] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      if (text !== '') lines.push(text.split('\0').filter((arg) => arg !== ''));
    } catch {
      // It exited between the listing and the read.
    }
  }
  return lines;
}

function running(match: (args: string[]) => boolean): boolean {
  return commandLines().some(match);
}

describe('the gauntlet on abort', () => {
  it('kills a confined tool with its whole process group, children included', async () => {
    const scratch = mkdtempSync(path.join(root, 'confined-'));
    const controller = new AbortController();
    // The tool (sh) forks both sleeps, named by their unique durations: killing the tool alone would leave them.
    const first = (args: string[]) => args[0] === 'sleep' && args[1] === '3518';
    const second = (args: string[]) => args[0] === 'sleep' && args[1] === '3519';
    const run = runConfined('sh', ['-c', 'sleep 3518 | sleep 3519'], {
      scratch,
      read: [],
      limits: { memoryMiB: 256, cpuSeconds: 10, fileMiB: 1 },
      timeoutMs: 600_000,
      signal: controller.signal,
    });
    await until(() => running(first) && running(second));
    controller.abort();
    const result = await run;
    expect(result.aborted).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(running(first)).toBe(false);
    expect(running(second)).toBe(false);
  });

  it('kills the sandbox runner and its workers', async () => {
    const controller = new AbortController();
    const seed = '731904522';
    const ofThisRun = (args: string[]) => args.includes('--seed') && args[args.indexOf('--seed') + 1] === seed;
    const run = runSandbox({
      runnerPath: sandboxRunnerPath(),
      candidatePath: kernelModulePath('reference'),
      incumbentPath: kernelModulePath('reference'),
      slot: 'step',
      seed: Number(seed),
      precision: 'f64',
      targetExtents: [2048, 2048],
      heldOutExtents: [1024, 1024],
      heldOutCells: 1024 * 1024,
      stepsPerCall: 1,
      benchSteps: 64,
      benchSamples: 1000,
      dojoWaves: 100,
      threads: 2,
      cpuSeconds: 600,
      memoryMiB: 2048,
      timeoutMs: 600_000,
      signal: controller.signal,
    });
    await until(() => running(ofThisRun));
    controller.abort();
    const outcome = await run;
    expect(outcome.timedOut).toBe(false);
    expect(outcome.signal).toBe('SIGKILL');
    // The workers, each in a process group of its own, die by PR_SET_PDEATHSIG moments after the
    // supervisor: wait for it (a worker that outlived it would hold this test until its time limit).
    await until(() => !running(ofThisRun));
  });

  it('ends an evaluation at once with an interrupted verdict, the gate it cut short left out', async () => {
    const controller = new AbortController();
    const analysing = (args: string[]) => args.some((arg) => /clang-tidy|cppcheck|cc1plus/.test(path.basename(arg)));
    const evaluation = evaluateCandidate({ source: reference, cacheDir: path.join(root, 'evaluate-cache'), useCache: false, signal: controller.signal });
    await until(() => running(analysing));
    controller.abort();
    const verdict = await evaluation;
    expect(verdict).toMatchObject({ interrupted: true, accepted: false, improves: false, failedGate: null });
    expect(verdict.gates.map((gate) => gate.gate)).toEqual(['patch']);
  });
});

function testConfig(name: string): EngineConfig {
  // One failure would open the circuit: an interrupted attempt must not count as one.
  return engineTestConfig(root, name, { breaker: { failures: 1, backoff: '300ms', maxBackoff: '2s' } });
}

function engineWith(name: string, gauntlet: ScriptedGauntlet): { engine: Engine; config: EngineConfig; lat: Lattice } {
  const config = testConfig(name);
  const lat = createMainLattice(config.lattice);
  lattices.push(lat);
  const engine = new Engine(lat, config, {
    generator: new FixtureGenerator(reference),
    autoImprove: false,
    trustGeneratedSources: true,
    evaluate: gauntlet.evaluate,
  });
  return { engine, config, lat };
}

describe('Engine.stop()', () => {
  it('interrupts an attempt whose gauntlet ends only when aborted: recorded as interrupted, not failed, and not counted by the breaker', async () => {
    const gauntlet = new ScriptedGauntlet();
    const { engine, config } = engineWith('interrupted', gauntlet);
    await engine.start();
    const id = await engine.attemptImprovement();
    const options = await gauntlet.called(1);
    // The stage never resolves by itself: only its signal ends it, as a killed tool does.
    options.signal!.addEventListener('abort', () => gauntlet.settleAll(verdict({ interrupted: true, accepted: false, gates: [passedGate('patch')] })));
    const summary = await engine.stop();
    expect(summary.byStatus.interrupted).toBe(1);
    expect(summary.byStatus.failed).toBe(0);
    expect(summary.circuitOpenings).toBe(0);
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'interrupted', reason: INTERRUPTED_REASON, failedGate: null });
      expect(archive.get(id)!.gates.map((g) => g.gate)).toEqual(['patch']);
    } finally {
      archive.close();
    }
  });

  it('keeps a winner that the stop overtook as passed, with the incumbent live', async () => {
    const gauntlet = new ScriptedGauntlet();
    const { engine, config, lat } = engineWith('passed', gauntlet);
    await engine.start();
    const id = await engine.attemptImprovement();
    const options = await gauntlet.called(1);
    // A gauntlet that finishes just as the stop comes: its winner reaches the live changes after the abort.
    options.signal!.addEventListener('abort', () => gauntlet.settleAll(winningVerdict()));
    const summary = await engine.stop();
    expect(summary.applied).toBe(0);
    expect(lat.slots().step.live.name).toBe('reference');
    const archive = Archive.open(config.archive.path);
    try {
      const record = archive.get(id)!;
      expect(record).toMatchObject({ status: 'passed', reason: STOPPED_FIRST_REASON });
      expect(archive.ledger.entries()).toEqual([]);
    } finally {
      archive.close();
    }
  });

  it('closes as interrupted an attempt whose gauntlet ignores the signal, and still stops', async () => {
    const gauntlet = new ScriptedGauntlet();
    const { engine, config } = engineWith('ignored', gauntlet);
    await engine.start();
    const id = await engine.attemptImprovement();
    await gauntlet.called(1);
    const summary = await engine.stop();
    expect(summary.wallSeconds).toBeGreaterThan(0);
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)!.status).toBe('interrupted');
    } finally {
      archive.close();
    }
    // The straggler's verdict, should it come at last, changes nothing the archive says.
    gauntlet.settleAll(verdict({ accepted: false, failedGate: 'dojo' }));
  });

  it('stops while a canary that cannot be aborted still steps its copies, and closes its attempt as interrupted', async () => {
    const gauntlet = new ScriptedGauntlet();
    const { engine, config, lat } = engineWith('stuck-canary', gauntlet);
    // A native canary runs its steps to the end whatever the signal says (at 4096^2 under load, a minute):
    // this one ends only when the test lets it, after the stop has returned.
    let canaryCalled = false;
    let finishCanary!: () => void;
    const canaryMayEnd = new Promise<void>((resolve) => (finishCanary = resolve));
    const canary = lat.canary.bind(lat);
    lat.canary = async (...args: Parameters<Lattice['canary']>) => {
      canaryCalled = true;
      await canaryMayEnd;
      return canary(...args);
    };
    await engine.start();
    const id = await engine.attemptImprovement();
    await gauntlet.called(1);
    gauntlet.settleAll(winningVerdict());
    await until(() => canaryCalled);
    const summary = await engine.stop();
    expect(summary.applied).toBe(0);
    expect(lat.slots().step.live.name).toBe('reference');
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'interrupted', reason: INTERRUPTED_REASON });
      expect(archive.ledger.entries()).toEqual([]);
    } finally {
      archive.close();
    }
    finishCanary();
  });
});

describe('the engine on an archive that can no longer be written', () => {
  it('stops starting attempts, ends cleanly and says which file failed and why (SQLITE_FULL)', async () => {
    const gauntlet = new ScriptedGauntlet();
    const config = testConfig('storage-failure');
    const archive = Archive.open(config.archive.path);
    const lat = createMainLattice(config.lattice);
    lattices.push(lat);
    const engine = new Engine(lat, config, { archive, generator: new FixtureGenerator(reference), trustGeneratedSources: true, evaluate: gauntlet.evaluate });
    await engine.start();
    await gauntlet.called(1);
    // The disk fills while the first attempt is judged: every later write fails as better-sqlite3 reports it.
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    archive.updateAttempt = () => {
      throw full;
    };
    archive.insertAttempt = () => {
      throw full;
    };
    gauntlet.settleAll(verdict({ accepted: false, failedGate: 'patch', gates: [{ ...passedGate('patch'), passed: false, reason: 'refused' }] }));
    await engine.whenStopped();
    expect(engine.storageFailure?.message).toBe(
      `archive ${config.archive.path}: a write failed (SQLITE_FULL: database or disk is full); the engine stopped starting attempts`,
    );
    expect(engine.running).toBe(false);
    expect(gauntlet.calls).toHaveLength(1);
    archive.close();
  });
});

describe('run --duration', () => {
  it("asks for the stop a final window before the duration's end, so that the run ends at it", () => {
    expect(FINAL_WINDOW_MS).toBe(1_000);
    expect(stopRequestAtMs(0, 180_000)).toBe(179_000);
    expect(stopRequestAtMs(2_500, 60_000)).toBe(61_500);
    // A run shorter than the window stops as soon as it can.
    expect(stopRequestAtMs(100, 500)).toBe(100);
  });

  it('counts from when the run began (the CLI: the process start), not from the call that sets it up', async () => {
    const dir = path.join(root, 'duration');
    mkdirSync(dir, { recursive: true });
    const config = path.join(dir, 'ouroboros.toml');
    writeFileSync(config, `[gauntlet]\ncacheDir = ${JSON.stringify(path.join(dir, 'cache'))}\n[log]\nfile = ${JSON.stringify(path.join(dir, 'engine.log'))}\n`);
    const options = {
      config,
      duration: 60_000,
      lattice: [32, 32],
      archive: path.join(dir, 'archive.sqlite'),
      report: path.join(dir, 'report.html'),
      json: true,
    };
    // Its 60 s went by before the call (as a slow start-up's seconds do): it stops as soon as the engine has started, before any attempt.
    const result = await runMainJob(options, null, performance.now() - 60_000);
    expect(result.summary.attempts).toBe(0);
    expect(result.verification.ok).toBe(true);
  }, 60_000);
});
