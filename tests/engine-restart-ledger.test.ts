// A new run starts on the reference kernel: when the ledger's last change of
// a slot had left another module there, the engine records the return as a
// `restart` entry, so that the ledger says what ran at every step.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';
import { Archive } from '../dist/ts/archive/index.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { fileSha256 } from '../dist/ts/engine/live-changes.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-restart-ledger-test-'));
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = resolveConfig({
  archive: { path: path.join(root, 'archive.sqlite'), warmStart: false },
  lattice: { extents: [64, 64] },
  gauntlet: { targetExtents: [64, 64], heldOutExtents: [33, 31], cacheDir: path.join(root, 'cache') },
  log: { file: path.join(root, 'engine.log') },
});

async function runOnce(): Promise<void> {
  const lat = createMainLattice(config.lattice);
  try {
    const engine = new Engine(lat, config, { generator: new FixtureGenerator(reference), autoImprove: false, trustGeneratedSources: true });
    await engine.start();
    await engine.stop();
  } finally {
    lat.close();
  }
}

describe('a run that starts on the reference after another module was live', () => {
  it('records the return to the reference in the ledger, once, and the chain stays intact', async () => {
    await runOnce();
    const referenceSha = fileSha256(kernelModulePath('reference'));
    const rowsSha = fileSha256(kernelModulePath('rows'));
    let archive = Archive.open(config.archive.path);
    const stepRoot = archive.list({ slot: 'step' })[0]!;
    // What an earlier run's apply leaves behind: the rows module live in the step slot.
    archive.ledger.append({
      action: 'apply',
      slot: 'step',
      attemptId: stepRoot.id,
      moduleSha256: rowsSha,
      previousModuleSha256: referenceSha,
      atStep: 10,
      reason: 'an earlier run',
    });
    archive.close();

    await runOnce();
    await runOnce();
    archive = Archive.open(config.archive.path);
    try {
      const entries = archive.ledger.entries();
      expect(entries.map((entry) => entry.action)).toEqual(['apply', 'restart']);
      expect(entries[1]).toMatchObject({ slot: 'step', moduleSha256: referenceSha, previousModuleSha256: rowsSha, attemptId: stepRoot.id, atStep: 0 });
      expect(entries[1]!.reason).toMatch(/^a new run started with reference \(attempt \d+\) live; ledger entry 1 had left attempt \d+'s module there$/);
      expect(archive.ledger.verify().ok).toBe(true);
    } finally {
      archive.close();
    }
  });
});
