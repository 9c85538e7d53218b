import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Archive, INTERRUPTED_REASON, LEGACY_INTERRUPTED } from '../dist/ts/archive/archive.js';
import { BUSY_TIMEOUT_MS, retryWhileBusy } from '../dist/ts/archive/database.js';
import { ArchiveError } from '../dist/ts/archive/errors.js';
import { APPLICATION_ID, SCHEMA_VERSION } from '../dist/ts/archive/schema.js';
import type { AttemptRecord, AttemptStatus, NewAttempt } from '../dist/ts/archive/types.js';
import type { BenchmarkSummary, GateVerdict } from '../dist/ts/gauntlet/types.js';

const REFERENCE_SOURCE = '// reference kernel\nextern "C" int step() { return 0; }\n';
const REFERENCE_MODULE = 'a'.repeat(64);
const INSERT_LOOP = path.resolve('tests/fixtures/archive/insert-loop.mjs');

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-archive-test-'));
  file = path.join(dir, 'nested', 'archive.sqlite');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function child(parentId: number, operator: string, extra: Partial<NewAttempt> = {}): NewAttempt {
  return { parentId, slot: 'step', generator: 'variant', operator, genome: { operator }, prompt: null, source: `// ${operator}\n`, ...extra };
}

const gates: GateVerdict[] = [
  { gate: 'patch', passed: true, reason: '', details: { lines: 12 }, seconds: 0.001 },
  { gate: 'static', passed: true, reason: '', details: { safetyScore: 0.93, findings: [] }, seconds: 0.25 },
  { gate: 'compile', passed: true, reason: '', details: { cached: false, flags: ['-O3'] }, seconds: 1.5 },
  { gate: 'bench', passed: true, reason: '', details: { note: 'wins on both lattices' }, seconds: 3.25 },
];

const benchmark: BenchmarkSummary = {
  wins: true,
  lattices: [
    {
      lattice: 'target',
      extents: [2048, 2048],
      steps: 8,
      samples: 15,
      candidateMedianNs: 1_250_000.5,
      incumbentMedianNs: 5_000_001,
      ratio: 0.2500000875,
      ratioLow: 0.24,
      ratioHigh: 0.26,
      pValue: 1.2e-6,
      verdict: 'faster',
    },
  ],
  overhead: [],
};

describe('Archive: records', () => {
  it('round-trips every field of an attempt through close and reopen', () => {
    let archive = Archive.open(file);
    const root = archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    const source = '// ünïcode and "quotes"\n#pragma GCC unroll 4\n';
    const inserted = archive.insertAttempt({
      parentId: root.id,
      slot: 'step',
      generator: 'llm',
      operator: 'llm:prompt-v1',
      genome: { tile: [32, 64], unroll: 4, restrict: true, nested: { boundary: 'peeled' } },
      prompt: 'Make the step kernel faster.\nKeep the ABI.',
      source,
      costUsd: 0.0125,
    });
    expect(inserted).toMatchObject({
      parentId: root.id,
      status: 'pending',
      sourceSha256: sha256(source),
      moduleSha256: null,
      gates: [],
      reason: '',
      finishedAt: null,
    });
    expect(Number.isNaN(Date.parse(inserted.createdAt))).toBe(false);

    const finishedAt = '2030-01-02T03:04:05.678Z';
    // Every field an update sets, each with a value that must come back exactly.
    const update = {
      moduleSha256: 'b'.repeat(64),
      modulePath: '/tmp/cache/bbbb.so',
      gates,
      failedGate: null,
      reason: '',
      benchmark,
      benchRatio: 0.2500000875,
      liveMlups: 1234.5,
      speedup: 3.9999986,
      status: 'applied' as const,
      costUsd: 0.025,
      finishedAt,
    };
    const updated = archive.updateAttempt(inserted.id, update);
    archive.close();

    archive = Archive.open(file);
    const expected: AttemptRecord = {
      id: inserted.id,
      parentId: root.id,
      slot: 'step',
      generator: 'llm',
      operator: 'llm:prompt-v1',
      genome: { tile: [32, 64], unroll: 4, restrict: true, nested: { boundary: 'peeled' } },
      prompt: 'Make the step kernel faster.\nKeep the ABI.',
      rawReply: null,
      source,
      sourceSha256: sha256(source),
      ...update,
      createdAt: inserted.createdAt,
    };
    expect(updated).toEqual(expected);
    expect(archive.get(inserted.id)).toEqual(expected);
    expect(archive.get(inserted.id + 100)).toBeNull();
    archive.close();
  });

  it('updates generator, operator, genome, prompt and the failure fields, and stamps finishedAt on leaving pending', () => {
    const archive = Archive.open(file);
    const root = archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    const attempt = archive.insertAttempt(child(root.id, 'sample'));
    const changed = archive.updateAttempt(attempt.id, { generator: 'random', operator: 'resample', genome: null, prompt: 'p' });
    expect(changed).toMatchObject({ generator: 'random', operator: 'resample', genome: null, prompt: 'p', finishedAt: null });
    const rejected = archive.updateAttempt(attempt.id, { status: 'rejected', failedGate: 'symbols', reason: 'imports dlopen', gates: gates.slice(0, 1) });
    expect(rejected).toMatchObject({ status: 'rejected', failedGate: 'symbols', reason: 'imports dlopen', gates: gates.slice(0, 1) });
    expect(rejected.finishedAt).not.toBeNull();
    // A later update keeps the first finishing time.
    expect(archive.updateAttempt(attempt.id, { status: 'failed' }).finishedAt).toBe(rejected.finishedAt);
    expect(archive.updateAttempt(attempt.id, {})).toEqual(archive.get(attempt.id));
    archive.close();
  });

  it('creates one root per slot, keeps it, and refuses another reference source', () => {
    const archive = Archive.open(file);
    const root = archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    expect(root).toMatchObject({ parentId: null, slot: 'step', generator: 'reference', status: 'applied', speedup: 1, sourceSha256: sha256(REFERENCE_SOURCE) });
    expect(archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE)).toEqual(root);
    expect(archive.root('step')).toEqual(root);
    expect(archive.root('readout')).toBeNull();
    const readout = archive.ensureRoot('readout', '// readout\n', REFERENCE_MODULE);
    expect(readout.id).not.toBe(root.id);
    // The same source rebuilt by another compiler: the root follows the module.
    expect(archive.ensureRoot('step', REFERENCE_SOURCE, 'c'.repeat(64))).toEqual({ ...root, moduleSha256: 'c'.repeat(64) });
    expect(() => archive.ensureRoot('step', '// another reference\n', REFERENCE_MODULE)).toThrow(ArchiveError);
    expect(() => archive.ensureRoot('step', '// another reference\n', REFERENCE_MODULE)).toThrow(/another version of the reference kernel/);
    archive.close();
  });

  it('refuses malformed attempts naming the field', () => {
    const archive = Archive.open(file);
    const root = archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    const readoutRoot = archive.ensureRoot('readout', '// readout\n', REFERENCE_MODULE);
    expect(() => archive.insertAttempt(child(null as unknown as number, 'x'))).toThrow(
      'attempt.parentId = null: must be the id of the parent attempt (a root record is made by ensureRoot)',
    );
    expect(() => archive.insertAttempt(child(999, 'x'))).toThrow('attempt.parentId = 999: is not an attempt in archive');
    expect(() => archive.insertAttempt(child(readoutRoot.id, 'x'))).toThrow(`attempt.parentId = ${readoutRoot.id}: is an attempt of slot readout, not step`);
    expect(() => archive.insertAttempt(child(root.id, 'x', { slot: 'stencil' as 'step' }))).toThrow('attempt.slot = "stencil": must be one of step, readout');
    expect(() => archive.insertAttempt(child(root.id, ''))).toThrow('attempt.operator = "": must not be empty');
    expect(() => archive.insertAttempt(child(root.id, 'x', { costUsd: -1 }))).toThrow('attempt.costUsd = -1: must be a finite number >= 0');
    const attempt = archive.insertAttempt(child(root.id, 'x'));
    expect(() => archive.updateAttempt(attempt.id, { status: 'won' as AttemptStatus })).toThrow('update.status = "won": must be one of pending, rejected');
    expect(() => archive.updateAttempt(attempt.id, { failedGate: 'firewall' as 'static' })).toThrow('update.failedGate = "firewall"');
    expect(() => archive.updateAttempt(attempt.id, { moduleSha256: 'xyz' })).toThrow('update.moduleSha256 = "xyz": must be 64 lowercase hex digits');
    expect(() => archive.updateAttempt(attempt.id, { speedup: Number.NaN })).toThrow('update.speedup = NaN: must be a finite number');
    expect(() => archive.updateAttempt(attempt.id, { gates: [{ gate: 'compile', passed: 'yes' }] as unknown as GateVerdict[] })).toThrow(
      'update.gates[0].passed = "yes": must be a boolean',
    );
    expect(() => archive.updateAttempt(attempt.id, { source: 'y' } as never)).toThrow('update.source = "y": is not a field an update may change');
    expect(() => archive.updateAttempt(attempt.id + 50, { reason: 'r' })).toThrow(`id = ${attempt.id + 50}: is not an attempt in archive`);
    expect(archive.get(attempt.id)).toEqual(attempt);
    archive.close();
  });
});

describe('Archive: queries', () => {
  function populate(archive: Archive) {
    const root = archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    const readoutRoot = archive.ensureRoot('readout', '// readout\n', REFERENCE_MODULE);
    const a = archive.insertAttempt(child(root.id, 'a'));
    const b = archive.insertAttempt(child(root.id, 'b'));
    const c = archive.insertAttempt(child(a.id, 'c'));
    const d = archive.insertAttempt(child(a.id, 'd'));
    const e = archive.insertAttempt(child(a.id, 'e'));
    const f = archive.insertAttempt(child(readoutRoot.id, 'f', { slot: 'readout' }));
    archive.updateAttempt(a.id, { status: 'applied', speedup: 2 });
    archive.updateAttempt(b.id, { status: 'rejected', failedGate: 'compile', reason: 'does not compile' });
    archive.updateAttempt(c.id, { status: 'rejected', failedGate: 'dojo', reason: 'diverges on wave 17' });
    archive.updateAttempt(d.id, { status: 'rejected', failedGate: 'compile', reason: 'does not compile' });
    archive.updateAttempt(f.id, { status: 'failed', failedGate: 'sandbox', reason: 'crashed' });
    return { root, readoutRoot, a, b, c, d, e, f };
  }

  it('lists by slot and status, in id order, with limit and offset', () => {
    const archive = Archive.open(file);
    const { root, readoutRoot, a, b, c, d, e, f } = populate(archive);
    const ids = (records: AttemptRecord[]) => records.map((record) => record.id);
    expect(ids(archive.list())).toEqual([root.id, readoutRoot.id, a.id, b.id, c.id, d.id, e.id, f.id]);
    expect(ids(archive.list({ slot: 'readout' }))).toEqual([readoutRoot.id, f.id]);
    expect(ids(archive.list({ status: 'rejected' }))).toEqual([b.id, c.id, d.id]);
    expect(ids(archive.list({ slot: 'step', status: ['applied', 'pending'] }))).toEqual([root.id, a.id, e.id]);
    expect(ids(archive.list({ status: 'rejected', limit: 2 }))).toEqual([b.id, c.id]);
    expect(ids(archive.list({ status: 'rejected', limit: 2, offset: 2 }))).toEqual([d.id]);
    expect(ids(archive.list({ offset: 7 }))).toEqual([f.id]);
    expect(archive.list({ limit: 0 })).toEqual([]);
    expect(() => archive.list({ limit: -1 })).toThrow('query.limit = -1: must be an integer in [0,');
    expect(() => archive.list({ status: ['applied', 'lost' as AttemptStatus] })).toThrow('query.status[1] = "lost"');
    archive.close();
  });

  it('counts children per parent within a slot', () => {
    const archive = Archive.open(file);
    const { root, readoutRoot, a } = populate(archive);
    expect(archive.childCounts('step')).toEqual(
      new Map([
        [root.id, 2],
        [a.id, 3],
      ]),
    );
    expect(archive.childCounts('readout')).toEqual(new Map([[readoutRoot.id, 1]]));
    archive.close();
  });

  it('counts attempts by status and by failed gate, without the root records', () => {
    const archive = Archive.open(file);
    populate(archive);
    const all = archive.counts();
    expect(all.total).toBe(6);
    expect(all.byStatus).toEqual({ pending: 1, rejected: 3, failed: 1, passed: 0, applied: 1, 'rolled-back': 0, superseded: 0, interrupted: 0 });
    expect(all.byFailedGate).toEqual({ patch: 0, static: 0, compile: 2, symbols: 0, sandbox: 1, dojo: 1, bench: 0 });
    const step = archive.counts('step');
    expect(step.total).toBe(5);
    expect(step.byStatus.failed).toBe(0);
    expect(step.byFailedGate.sandbox).toBe(0);
    expect(step.byFailedGate.compile).toBe(2);
    archive.close();
  });

  it('closes pending attempts as interrupted', () => {
    const archive = Archive.open(file);
    const { e } = populate(archive);
    expect(archive.markInterrupted()).toBe(1);
    expect(archive.get(e.id)).toMatchObject({ status: 'interrupted', reason: INTERRUPTED_REASON });
    expect(archive.get(e.id)?.finishedAt).not.toBeNull();
    expect(archive.markInterrupted()).toBe(0);
    archive.close();
  });

  it('relabels attempts an older build closed as failed for the same reason, and only those', () => {
    const archive = Archive.open(file);
    const { b, e, f } = populate(archive);
    archive.updateAttempt(e.id, { ...LEGACY_INTERRUPTED });
    expect(archive.markInterrupted()).toBe(0);
    expect(archive.get(e.id)).toMatchObject({ status: 'interrupted', reason: LEGACY_INTERRUPTED.reason });
    expect(archive.get(f.id)).toMatchObject({ status: 'failed', reason: 'crashed' });
    expect(archive.get(b.id)!.status).toBe('rejected');
    archive.close();
  });
});

describe('Archive: the file', () => {
  it('is an SQLite database in WAL mode marked with the application id and schema version', () => {
    Archive.open(file).close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('refuses a newer schema version naming the file and both versions', () => {
    Archive.open(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => Archive.open(file)).toThrow(ArchiveError);
    expect(() => Archive.open(file)).toThrow(
      `archive ${file} has schema version ${SCHEMA_VERSION + 1}, which is newer than this build of Ouroboros understands (it reads version ${SCHEMA_VERSION} and migrates version 1, 2, 3, 4, 5, 6, 7)`,
    );
  });

  it('refuses an unknown older schema version', () => {
    Archive.open(file).close();
    const db = new Database(file);
    db.pragma('user_version = 0');
    db.close();
    expect(() => Archive.open(file)).toThrow(`archive ${file} has schema version 0, which is not one this build of Ouroboros knows`);
  });

  it('refuses a file that is not a database, and leaves it as it was', () => {
    const text = path.join(dir, 'notes.txt');
    const content = 'these are notes, not a database\n'.repeat(200);
    writeFileSync(text, content);
    expect(() => Archive.open(text)).toThrow(ArchiveError);
    expect(() => Archive.open(text)).toThrow(`archive ${text} is not an SQLite database (file is not a database)`);
    expect(readFileSync(text, 'utf8')).toBe(content);
  });

  it('refuses an archive whose header was overwritten', () => {
    const archive = Archive.open(file);
    archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE);
    archive.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
    closeSync(fd);
    expect(() => Archive.open(file)).toThrow(`archive ${file} is not an SQLite database`);
  });

  it("refuses another application's database without switching it to WAL", () => {
    const foreign = path.join(dir, 'foreign.sqlite');
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (body TEXT)');
    db.close();
    expect(() => Archive.open(foreign)).toThrow(
      `archive ${foreign} is an SQLite database of another application (application_id 0x00000000, an archive has 0x4f55524f; tables: notes)`,
    );
    const check = new Database(foreign, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it('turns an empty file into an archive', () => {
    const empty = path.join(dir, 'empty.sqlite');
    writeFileSync(empty, '');
    const archive = Archive.open(empty);
    expect(archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE).id).toBe(1);
    archive.close();
  });
});

interface LoopOutput {
  inflight: number | null;
  inserted: Map<number, number>;
  finished: number[];
}

/** Runs the insert loop until it acknowledged `finishedTarget` attempts, then SIGKILLs it. */
function runInsertLoopAndKill(archiveFile: string, finishedTarget: number): Promise<LoopOutput> {
  const output: LoopOutput = { inflight: null, inserted: new Map(), finished: [] };
  return new Promise((resolve, reject) => {
    const loop = spawn(process.execPath, [INSERT_LOOP, archiveFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    loop.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: loop.stdout }).on('line', (line) => {
      const [kind, id, index] = line.split(' ');
      if (kind === 'inflight') output.inflight = Number(id);
      if (kind === 'inserted') output.inserted.set(Number(id), Number(index));
      if (kind === 'finished') output.finished.push(Number(id));
      if (output.finished.length === finishedTarget) loop.kill('SIGKILL');
    });
    loop.on('error', reject);
    loop.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(output);
      else reject(new Error(`the insert loop exited with ${code ?? signal} before it was killed: ${stderr}`));
    });
  });
}

describe('Archive: a lock SQLite does not wait for', () => {
  function sqliteError(code: string): Error {
    return Object.assign(new Error(code === 'SQLITE_BUSY' ? 'database is locked' : code), { code });
  }

  it('is asked for again until it is free', () => {
    const codes = ['SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY'];
    let calls = 0;
    const mode = retryWhileBusy(() => {
      calls += 1;
      const code = codes.shift();
      if (code) throw sqliteError(code);
      return 'wal';
    });
    expect(mode).toBe('wal');
    expect(calls).toBe(3);
  });

  it("is given up with SQLite's own error once the busy timeout has passed", () => {
    let clock = 1000;
    let calls = 0;
    const stillBusy = (): never => {
      calls += 1;
      clock += BUSY_TIMEOUT_MS / 2;
      throw sqliteError('SQLITE_BUSY');
    };
    expect(() => retryWhileBusy(stillBusy, BUSY_TIMEOUT_MS, () => clock)).toThrow('database is locked');
    expect(calls).toBe(2);
  });

  it('is not the cause of any other error, which is thrown at the first call', () => {
    let calls = 0;
    const corrupt = (): never => {
      calls += 1;
      throw sqliteError('SQLITE_CORRUPT');
    };
    expect(() => retryWhileBusy(corrupt)).toThrow('SQLITE_CORRUPT');
    expect(calls).toBe(1);
  });
});

describe('Archive: kill -9', () => {
  it('keeps every acknowledged attempt of a writer killed mid-run, and marks the pending ones interrupted', async () => {
    const output = await runInsertLoopAndKill(file, 150);
    expect(output.inflight).not.toBeNull();
    expect(output.finished.length).toBeGreaterThanOrEqual(150);

    const db = new Database(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    const archive = Archive.open(file);
    for (const [id, index] of output.inserted) {
      expect(archive.get(id), `attempt ${id}`).toMatchObject({ operator: `mutate:${index}`, genome: { i: index }, source: `// candidate ${index}\n` });
    }
    for (const id of output.finished) {
      expect(archive.get(id), `attempt ${id}`).toMatchObject({ status: 'rejected', failedGate: 'compile' });
    }
    const pending = archive.list({ status: 'pending' });
    expect(pending.map((record) => record.id)).toContain(output.inflight);
    expect(archive.markInterrupted()).toBe(pending.length);
    expect(archive.get(output.inflight!)).toMatchObject({ status: 'interrupted', reason: INTERRUPTED_REASON });
    expect(archive.list({ status: 'pending' })).toEqual([]);
    expect(archive.counts().byStatus.interrupted).toBe(pending.length);
    archive.close();
  });
});
