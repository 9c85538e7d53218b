// What the dashboard's charts and its attempts in flight are made of, below
// the browser: the samples a run keeps in the archive (schema version 4,
// bounded per run), the in-cache ceiling read at each sample, and the gates
// the gauntlet reports as they begin and end.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive, MAX_RUN_SAMPLES, SCHEMA_VERSION, downsampleRun } from '../dist/ts/archive/index.js';
import type { RunSample } from '../dist/ts/archive/types.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import type { AttemptStatusReport, EngineEvents, EngineSample } from '../dist/ts/engine/events.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { type GateProgress, evaluateCandidate } from '../dist/ts/gauntlet/pipeline.js';
import { RunSampleLog } from '../dist/ts/report/run-samples.js';
import { whereInFlight } from '../dist/ts/ui/dashboard-data.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { passedGate, verdict } from './helpers/verdicts.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-samples-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function sample(index: number, fields: Partial<RunSample> = {}): RunSample {
  return { atMs: (index + 1) * 1000, step: (index + 1) * 50, mlups: 100, intervalMs: 1000, heldMs: 0, energyDrift: 1e-15, inCacheMlups: null, ...fields };
}

function run(samples: RunSample[]) {
  return {
    startedAt: '2026-12-06T10:00:00.000Z',
    finishedAt: '2026-12-06T10:30:00.000Z',
    baselineMlups: 90,
    rooflineMlups: 2000,
    driftTolerance: 1e-6,
    samples,
  };
}

describe('Archive.runs', () => {
  it('keeps a run and its samples as given when there are few, and numbers the runs', () => {
    const archive = Archive.open(path.join(root, 'few.sqlite'));
    try {
      const samples = [sample(0), sample(1, { heldMs: 400, mlups: 40 }), sample(2, { inCacheMlups: 2500 })];
      const first = archive.runs.record(run(samples));
      expect(first).toEqual({ ...run(samples), samples: undefined, id: 1, samplesTaken: 3 });
      expect(archive.runs.samples(1)).toEqual(samples);
      expect(archive.runs.record(run([sample(0)])).id).toBe(2);
      expect(archive.runs.list().map((r) => r.id)).toEqual([1, 2]);
      expect(archive.runs.samples(3)).toEqual([]);
    } finally {
      archive.close();
    }
  });

  it('merges neighbours down to MAX_RUN_SAMPLES, keeping held time, the largest drift and the updates over the time', () => {
    const many = Array.from({ length: 2 * MAX_RUN_SAMPLES + 1 }, (_, i) => sample(i, { mlups: i % 2 === 0 ? 100 : 300 }));
    many[10] = sample(10, { heldMs: 600, energyDrift: -5e-9 });
    const kept = downsampleRun(many);
    // Groups of 3: 2001 samples would be one too many.
    expect(kept).toHaveLength(Math.ceil(many.length / 3));
    // Samples 9, 10, 11: 300, 100 and 300 MLUPS over 1 s each; sample 10 held 600 ms with the run's largest drift.
    expect(kept[3]).toEqual({ atMs: 12_000, step: 600, mlups: 700 / 3, intervalMs: 3000, heldMs: 600, energyDrift: -5e-9, inCacheMlups: null });
    const archive = Archive.open(path.join(root, 'many.sqlite'));
    try {
      const record = archive.runs.record(run(many));
      expect(record.samplesTaken).toBe(many.length);
      expect(archive.runs.samples(record.id)).toEqual(kept);
    } finally {
      archive.close();
    }
  });

  it('refuses a sample that is not a finite figure, naming it, and keeps nothing of that run', () => {
    const archive = Archive.open(path.join(root, 'bad.sqlite'));
    try {
      expect(() => archive.runs.record(run([sample(0), sample(1, { mlups: Number.NaN })]))).toThrow('run.samples[1].mlups = NaN: must be a finite number');
      expect(() => archive.runs.record({ ...run([]), startedAt: 'yesterday' })).toThrow('run.startedAt');
      expect(archive.runs.list()).toEqual([]);
    } finally {
      archive.close();
    }
  });

  it('migrates a version-3 archive, adding the runs tables (and the owners of version 5)', () => {
    const file = path.join(root, 'v3.sqlite');
    const archive = Archive.open(file);
    const rootId = archive.ensureRoot('step', '// reference', 'a'.repeat(64)).id;
    archive.close();
    const db = new Database(file);
    db.exec('DROP TABLE run_samples; DROP TABLE runs; DROP TABLE owners; ALTER TABLE attempts DROP COLUMN owner; PRAGMA user_version = 3;');
    db.close();
    const reopened = Archive.open(file);
    try {
      expect(reopened.migratedFrom).toBe(3);
      expect(reopened.integrity(rootId)).toBe('intact');
      expect(reopened.runs.list()).toEqual([]);
      expect(reopened.runs.record(run([sample(0)])).id).toBe(1);
    } finally {
      reopened.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });
});

describe('RunSampleLog', () => {
  it('gives each sample the in-cache ceiling the engine knows when it is taken, and none to samples taken before it followed', () => {
    const engineSample = (atMs: number): EngineSample => ({
      atMs,
      step: atMs,
      mlups: 100,
      intervalMs: 1000,
      heldMs: 0,
      energyDrift: 0,
      liveModules: { step: 'reference', readout: 'reference' },
    });
    let ceiling: number | null = 1200;
    const engine = Object.assign(new EventEmitter<EngineEvents>(), { samples: () => [engineSample(1000)], inCacheMlups: () => ceiling });
    const log = new RunSampleLog(engine);
    engine.emit('sample', engineSample(2000));
    ceiling = null;
    engine.emit('sample', engineSample(3000));
    ceiling = 1900;
    engine.emit('sample', engineSample(4000));
    log.detach();
    engine.emit('sample', engineSample(5000));
    expect(log.samples().map((s) => [s.atMs, s.inCacheMlups])).toEqual([
      [1000, null],
      [2000, 1200],
      [3000, null],
      [4000, 1900],
    ]);
    expect(log.samples()[0]).not.toHaveProperty('liveModules');
  });
});

describe('RunSampleLog on a real engine', () => {
  it("reads the in-cache ceiling the engine's economy measured for the live step kernel", async () => {
    const dir = path.join(root, 'engine');
    const config = resolveConfig({
      sampleInterval: '100ms',
      archive: { path: path.join(dir, 'archive.sqlite'), warmStart: false },
      lattice: { extents: [64, 64] },
      economy: { enabled: true },
      log: { file: path.join(dir, 'engine.log') },
    });
    const lat = createMainLattice(config.lattice);
    const refused = { gate: 'static' as const, passed: false, reason: 'uses goto', details: {}, seconds: 0 };
    const engine = new Engine(lat, config, {
      generator: new FixtureGenerator(readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8')),
      evaluate: async () => verdict({ accepted: false, failedGate: 'static', gates: [passedGate('patch'), refused] }),
      // A roofline the live kernel is above binds the gain, so the economy measures the in-cache ceiling: here, injected.
      rooflineMlups: 1e-3,
      inCacheMlups: async () => 2400,
    });
    try {
      await engine.start();
      const log = new RunSampleLog(engine);
      // Registered after the log's listener: the log has the sample when this one sees it.
      await new Promise<void>((resolve) => {
        const seen = () => {
          if (log.samples().at(-1)?.inCacheMlups !== 2400) return;
          engine.off('sample', seen);
          resolve();
        };
        engine.on('sample', seen);
      });
      expect(engine.inCacheMlups()).toBe(2400);
    } finally {
      await engine.stop();
      lat.close();
    }
  });
});

describe('where an attempt in flight is', () => {
  const report = (phase: AttemptStatusReport['phase']): AttemptStatusReport => ({
    id: 7,
    slot: 'step',
    phase,
    status: 'pending',
    parentId: 1,
    generator: 'variant',
    failedGate: null,
    reason: '',
    startedAt: '2026-12-06T10:00:00.000Z',
    finishedAt: null,
  });
  const started = (gate: GateProgress['gate']): GateProgress => ({ gate, state: 'started' });
  const passed = (gate: GateProgress['gate']): GateProgress => ({ gate, state: 'finished', passed: true, reason: '' });

  it('names the gates under way, the last verdict between gates, and a remote gauntlet that reports none', () => {
    expect(whereInFlight(report('generating'), [], false)).toBe('generating');
    expect(whereInFlight(report('gauntlet'), [], false)).toBe('gauntlet');
    expect(whereInFlight(report('gauntlet'), [], true)).toBe('remote: gauntlet');
    expect(whereInFlight(report('gauntlet'), [passed('patch'), started('static'), started('compile')], false)).toBe('gauntlet: static + compile (1 passed)');
    expect(whereInFlight(report('gauntlet'), [passed('patch'), { gate: 'static', state: 'finished', passed: false, reason: 'uses goto' }], false)).toBe(
      'gauntlet: static failed: uses goto',
    );
    // After the gauntlet the phase says it: the gates are history.
    expect(whereInFlight(report('trial'), [passed('patch'), passed('bench')], false)).toBe('trial');
  });
});

describe('evaluateCandidate reports each gate as it begins and ends', () => {
  const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');
  const cacheDir = path.join(root, 'cache');

  it('for a source the patch gate refuses', async () => {
    const seen: GateProgress[] = [];
    const verdict = await evaluateCandidate({ source: '  ', cacheDir }, (progress) => seen.push(progress));
    expect(verdict.failedGate).toBe('patch');
    expect(seen).toEqual([
      { gate: 'patch', state: 'started' },
      { gate: 'patch', state: 'finished', passed: false, reason: 'the candidate source is empty' },
    ]);
  });

  it('for a source the static firewall refuses before anything is compiled', async () => {
    const seen: GateProgress[] = [];
    const verdict = await evaluateCandidate({ source: `#include "/etc/passwd"\n${reference}`, cacheDir }, (progress) => seen.push(progress));
    expect(verdict.failedGate).toBe('static');
    expect(seen.map((p) => [p.gate, p.state, p.state === 'finished' ? p.passed : null])).toEqual([
      ['patch', 'started', null],
      ['patch', 'finished', true],
      ['static', 'started', null],
      ['static', 'finished', false],
    ]);
    expect(seen.at(-1)).toMatchObject({ reason: verdict.gates.at(-1)!.reason });
  });
});
