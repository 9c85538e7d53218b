/**
 * Two engines on one archive, on each backend (an SQLite file and a
 * private PostgreSQL): a starting engine leaves the other's attempt in
 * flight pending, which that engine then records as it ends. And the
 * engine on a PostgreSQL archive whose server goes away takes the storage
 * failure path: it stops starting attempts and names the server, without
 * its password. The gauntlet is injected, so each attempt is in flight for
 * exactly as long as the test says.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { type EngineConfig, resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { type ArchiveBackend, PostgresBackend, SqliteBackend } from './helpers/archive-backends.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { passedGate, verdict } from './helpers/verdicts.js';
import { until } from './helpers/until.js';
import { ScriptedGauntlet } from './helpers/scripted-gauntlet.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-two-engines-'));
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
const lattices: Lattice[] = [];
const refused = verdict({ accepted: false, failedGate: 'patch', gates: [{ ...passedGate('patch'), passed: false, reason: 'refused' }] });

afterAll(() => {
  for (const lattice of lattices) lattice.close();
  rmSync(root, { recursive: true, force: true });
});

function engineConfig(name: string): EngineConfig {
  const dir = mkdtempSync(path.join(root, `${name}-`));
  mkdirSync(dir, { recursive: true });
  return resolveConfig({
    maxConcurrentImprovements: 1,
    improvementInterval: '10ms',
    sampleInterval: '100ms',
    energyInterval: '250ms',
    archive: { path: path.join(dir, 'archive.sqlite'), warmStart: false },
    lattice: { extents: [32, 32] },
    gauntlet: { targetExtents: [32, 32], heldOutExtents: [17, 19], cacheDir: path.join(root, 'cache') },
    log: { file: path.join(dir, 'engine.log') },
  });
}

function engineOn(archive: Archive, name: string, gauntlet: ScriptedGauntlet, autoImprove = false): { engine: Engine; config: EngineConfig } {
  const config = engineConfig(name);
  const lattice = createMainLattice(config.lattice);
  lattices.push(lattice);
  const engine = new Engine(lattice, config, {
    archive,
    generator: new FixtureGenerator(reference),
    autoImprove,
    trustGeneratedSources: true,
    evaluate: gauntlet.evaluate,
  });
  return { engine, config };
}

describe.each([new SqliteBackend(), new PostgresBackend()] as ArchiveBackend[])('two engines on one archive ($name)', (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it("a starting engine leaves the other's attempt in flight pending, and that engine records how it ended", async () => {
    const location = await backend.fresh();
    const archiveA = Archive.open(location);
    const archiveB = Archive.open(location);
    const gauntletA = new ScriptedGauntlet();
    const { engine: engineA } = engineOn(archiveA, 'engine-a', gauntletA);
    const { engine: engineB } = engineOn(archiveB, 'engine-b', new ScriptedGauntlet());
    try {
      await engineA.start();
      const inFlight = await engineA.attemptImprovement();
      await until(() => gauntletA.calls.length === 1);
      await engineB.start();
      expect(archiveB.get(inFlight)!.status).toBe('pending');
      gauntletA.settleAll(refused);
      const record = await engineA.attemptFinished(inFlight);
      expect(record.status).toBe('rejected');
      expect(archiveB.get(inFlight)).toMatchObject({ status: 'rejected', failedGate: 'patch' });
    } finally {
      await engineB.stop();
      await engineA.stop();
      archiveA.close();
      archiveB.close();
    }
  });
});

describe('an engine on a PostgreSQL archive whose server goes away', () => {
  const backend = new PostgresBackend();
  beforeAll(() => backend.start());

  it('stops starting attempts, names the server without its password, and still stops with a summary', async () => {
    const location = await backend.fresh();
    // The private server trusts loopback and ignores the password: it stands for one a real URL would carry.
    const withPassword = location.replace('postgres://postgres@', 'postgres://postgres:s3cret@');
    const archive = Archive.open(withPassword, { timeoutMs: 5_000 });
    const gauntlet = new ScriptedGauntlet();
    const { engine } = engineOn(archive, 'lost-server', gauntlet, true);
    await engine.start();
    await until(() => gauntlet.calls.length === 1);
    await backend.stop();
    gauntlet.settleAll(refused);
    await engine.whenStopped();
    const message = engine.storageFailure?.message ?? '';
    expect(message).toMatch(
      /^archive postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/archive_\d+: a write failed \(\S+: .+\); the engine stopped starting attempts$/,
    );
    expect(message).not.toContain('s3cret');
    expect(gauntlet.calls).toHaveLength(1);
    expect(engine.running).toBe(false);
    archive.close();
  });
});
