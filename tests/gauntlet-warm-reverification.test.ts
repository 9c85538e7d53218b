// A warm start's re-verification, with the real gauntlet, checks the
// remembered module at the live lattice's size although it benchmarks on
// the held-out size: a module wrong only at the live size in calls of
// several steps (tests/fixtures/hostile/wrong-at-live-size-in-batches.cpp)
// goes live with no canary (the watchdog's differential check guards it) and, with the live runner held to
// one step per call, runs live correctly; the re-verification catches it,
// rolls it back, and marks it, so no later run offers it again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';
import { Archive, machineFingerprint } from '../dist/ts/archive/index.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import type { WarmStartReport } from '../dist/ts/engine/events.js';
import { fileSha256 } from '../dist/ts/engine/live-changes.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { closeSharedGauntletPool } from '../dist/ts/gauntlet/pool.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { rememberStepModule } from './helpers/remembered-module.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-warm-reverify-'));
const HOSTILE = readFileSync(path.resolve('tests/fixtures/hostile/wrong-at-live-size-in-batches.cpp'), 'utf8');
const REFERENCE_SOURCE = readFileSync('cpp/kernels/reference.cpp', 'utf8');
/** Above 2^20 cells, where the fixture's batched calls go wrong. */
const LIVE_EXTENTS = [1031, 1031];
const lattices: Lattice[] = [];

afterAll(async () => {
  for (const lat of lattices) lat.close();
  await closeSharedGauntletPool();
  rmSync(root, { recursive: true, force: true });
});

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

describe("a warm start's re-verification", () => {
  it('catches a remembered module wrong only at the live size, rolls it back and marks it', async () => {
    const cacheDir = path.join(root, 'cache');
    const config = resolveConfig({
      maxConcurrentImprovements: 1,
      improvementInterval: '10ms',
      sampleInterval: '100ms',
      energyInterval: '250ms',
      // The fixture is a plain scalar sweep, slower than the reference: the watch window must let it stay live.
      maxDegradation: 0.9,
      archive: { path: path.join(root, 'archive.sqlite'), warmStart: true },
      // One step per call live: the module is right there, so only the re-verification can see it.
      lattice: { extents: LIVE_EXTENTS, maxBatchSteps: 1 },
      watchdog: { everySteps: 500 },
      watch: { window: '300ms', minSteps: 5 },
      // Empty: the gauntlet's target is the live lattice, which the re-verification swaps for the held-out size.
      gauntlet: { targetExtents: [], heldOutExtents: [97, 89], cacheDir },
      log: { file: path.join(root, 'engine.log') },
    });
    const fingerprint = await machineFingerprint();
    const id = await rememberStepModule(config, fingerprint, HOSTILE);

    const lat = createMainLattice(config.lattice);
    lattices.push(lat);
    // No injected gauntlet: the re-verification is the real one.
    const engine = new Engine(lat, config, { generator: new FixtureGenerator(REFERENCE_SOURCE), autoImprove: false, trustGeneratedSources: true });
    const applied = warmStartReport(engine, 'applied', 'rejected', 'untrusted', 'none');
    const reverified = warmStartReport(engine, 'verified', 'rolled-back');
    await engine.start();
    try {
      const report = await applied;
      expect(report, report.reason).toMatchObject({ slot: 'step', outcome: 'applied', attemptId: id });
      const after = await reverified;
      expect(after, after.reason).toMatchObject({ slot: 'step', outcome: 'rolled-back', attemptId: id });
      expect(after.reason).toMatch(/re-verification failed: sandbox: differential/);
      expect(fileSha256(lat.slots().step.live.path)).toBe(fileSha256(kernelModulePath('reference')));
    } finally {
      await engine.stop();
    }
    const archive = Archive.open(config.archive.path);
    try {
      expect(archive.get(id)).toMatchObject({ status: 'rolled-back' });
      expect(archive.warmStart.remembered('step')).toBeNull();
      expect(archive.warmStart.warmStartCandidate('step', fingerprint).kind).toBe('none');
    } finally {
      archive.close();
    }
  }, 600_000);
});
