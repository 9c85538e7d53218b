// Failures of the machine are told apart from failures of the candidate: a
// full scratch disk and a tool starved of CPU fail the gate with
// `infrastructure` set, and the engine records them as such, never as the
// candidate's rejection.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processGroupCpuSeconds } from '../dist/ts/gauntlet/background.js';
import { type ConfinedRun, runConfined, starved } from '../dist/ts/gauntlet/gatekeeper.js';
import { describeInfrastructure } from '../dist/ts/gauntlet/infrastructure.js';
import { stopped } from '../dist/ts/gauntlet/preprocess.js';
import type { GateVerdict, GauntletVerdict, InfrastructureFailure } from '../dist/ts/gauntlet/types.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { nodeOnSmallDisk } from './helpers/small-disk.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-infrastructure-test-'));
const reference = readFileSync(path.resolve('tests/fixtures/variants/reference-copy.cpp'), 'utf8');

function confinedRun(overrides: Partial<ConfinedRun>): ConfinedRun {
  return { code: null, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: true, cpuSecondsAtTimeout: 0, aborted: false, confinement: null, ...overrides };
}

describe('a tool killed at its wall-clock limit', () => {
  it('was starved when it had less than half a core over that time, and not otherwise', () => {
    expect(starved(confinedRun({ cpuSecondsAtTimeout: 2 }), 60_000)).toBe(true);
    expect(starved(confinedRun({ cpuSecondsAtTimeout: 29.9 }), 60_000)).toBe(true);
    expect(starved(confinedRun({ cpuSecondsAtTimeout: 30 }), 60_000)).toBe(false);
    expect(starved(confinedRun({ cpuSecondsAtTimeout: 58 }), 60_000)).toBe(false);
    // Without procfs nothing can be told: the timeout stays the tool's.
    expect(starved(confinedRun({ cpuSecondsAtTimeout: null }), 60_000)).toBe(false);
    expect(starved(confinedRun({ timedOut: false, cpuSecondsAtTimeout: null, code: 0, signal: null }), 60_000)).toBe(false);
  });

  it('counts the CPU its process group used', async () => {
    // A child that burns 0.3 s of its own CPU, says so, then idles: the count is read while it is alive.
    const child = spawn(
      process.execPath,
      [
        '-e',
        'const s = process.cpuUsage(); while ((process.cpuUsage(s).user + process.cpuUsage(s).system) < 300_000); console.log("ready"); setInterval(() => {}, 1000);',
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      expect(processGroupCpuSeconds(child.pid!)).toBeGreaterThanOrEqual(0.29);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });

  it('is a busy machine when it waited instead of working (a real confined run)', async () => {
    const scratch = mkdtempSync(path.join(root, 'sleep-'));
    const run = await runConfined('sleep', ['30'], { scratch, read: [], limits: { memoryMiB: 64, cpuSeconds: 10, fileMiB: 1 }, timeoutMs: 300 });
    expect(run.timedOut).toBe(true);
    expect(run.cpuSecondsAtTimeout).not.toBeNull();
    expect(starved(run, 300)).toBe(true);
  });
});

describe('a preprocessor that was killed', () => {
  it('waited for the cores when it had less than half a core until its time limit: the machine, not the source', () => {
    // A loaded machine (bench evolve beside four builds) had a rendering of our own template refused with safety score 0 for this.
    const waited = stopped(confinedRun({ cpuSecondsAtTimeout: 1 }));
    expect(waited.infrastructure?.kind).toBe('busy');
    expect(waited.reason).toBe('the preprocessor was stopped at 30 s of wall time having had 1.0 s of CPU: the machine is too busy');
  });

  it("was the source's doing when it had the CPU, or met its memory limit", () => {
    expect(stopped(confinedRun({ cpuSecondsAtTimeout: 29 }))).toEqual({ reason: 'the preprocessor was stopped at its time or memory limit' });
    expect(stopped(confinedRun({ timedOut: false, cpuSecondsAtTimeout: null }))).toEqual({
      reason: 'the preprocessor was stopped at its time or memory limit',
    });
  });
});

describe('a full scratch disk', () => {
  it('fails the compile gate as infrastructure, not as a source that does not compile', () => {
    // A private mount namespace with a 16 KiB tmpfs as the compiler's scratch: the source fits, its assembly does not.
    const full = path.join(root, 'full');
    const cacheDir = path.join(root, 'cache');
    mkdirSync(full);
    mkdirSync(cacheDir);
    const script = [
      `import { hardenedCompile } from ${JSON.stringify(path.resolve('dist/ts/gauntlet/compile.js'))};`,
      `const verdict = await hardenedCompile(${JSON.stringify(reference)}, { includeDir: ${JSON.stringify(path.resolve('cpp/include'))}, timeoutMs: 120000, cacheDir: ${JSON.stringify(cacheDir)}, useCache: false });`,
      'console.log(JSON.stringify(verdict));',
    ].join('\n');
    const result = nodeOnSmallDisk(full, '16k', ['--input-type=module', '-e', script], { asTmpdir: true, timeoutMs: 180_000 });
    expect(result.status, result.stderr).toBe(0);
    const verdict = JSON.parse(result.stdout) as { passed: boolean; reason: string; infrastructure?: InfrastructureFailure };
    expect(verdict.passed).toBe(false);
    expect(verdict.infrastructure?.kind, verdict.reason).toBe('disk-full');
    expect(verdict.reason).toMatch(/^the compile: the disk is full \(.*(No space left on device|ENOSPC).*\)$/);
    expect(describeInfrastructure(verdict.infrastructure!)).toMatch(/^infrastructure \(disk-full\), not the candidate: /);
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('the engine, given a gauntlet that met a full disk', () => {
  it('records the attempt as failed for the infrastructure, not rejected, and backs off on that kind', async () => {
    const dir = path.join(root, 'engine');
    mkdirSync(dir, { recursive: true });
    const config = resolveConfig({
      improvementInterval: '10ms',
      archive: { path: path.join(dir, 'archive.sqlite'), warmStart: false },
      lattice: { extents: [64, 64] },
      gauntlet: { targetExtents: [64, 64], heldOutExtents: [33, 31], cacheDir: path.join(dir, 'cache') },
      breaker: { failures: 1, backoff: '300ms', maxBackoff: '2s' },
      log: { file: path.join(dir, 'engine.log') },
    });
    const lat = createMainLattice(config.lattice);
    const infrastructure = { kind: 'disk-full' as const, message: 'the compile: the disk is full (No space left on device)' };
    const compile: GateVerdict = { gate: 'compile', passed: false, reason: infrastructure.message, infrastructure, details: {}, seconds: 0 };
    const pass = (gate: GateVerdict['gate']): GateVerdict => ({ gate, passed: true, reason: '', details: {}, seconds: 0 });
    const evaluate = async (): Promise<GauntletVerdict> => ({
      interrupted: false,
      accepted: false,
      improves: false,
      failedGate: 'compile',
      gates: [pass('patch'), pass('static'), compile],
      safetyScore: 1,
      compileCached: false,
      isolation: [],
      benchmark: null,
      seconds: 0,
    });
    const engine = new Engine(lat, config, { generator: new FixtureGenerator(reference), autoImprove: false, trustGeneratedSources: true, evaluate });
    const openings: string[] = [];
    engine.on('circuit-open', (event) => openings.push(event.kind));
    try {
      await engine.start();
      const record = await engine.attemptFinished(await engine.attemptImprovement());
      expect(record.status).toBe('failed');
      expect(record.failedGate).toBe('compile');
      expect(record.reason).toBe('compile: infrastructure (disk-full), not the candidate: the compile: the disk is full (No space left on device)');
      expect(openings).toEqual(['infrastructure:disk-full']);
      const summary = await engine.stop();
      expect(summary.byStatus.rejected).toBe(0);
      expect(summary.byStatus.failed).toBe(1);
    } finally {
      lat.close();
    }
  });
});
