/**
 * One archive and ledger suite, run on both backends: an SQLite file and a
 * private PostgreSQL on loopback. Whatever the engine relies on (the hash
 * chain and what `ledger verify` finds, row seals, writers in several
 * processes at once, attempts owned by engines that share the archive) must
 * hold on each.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive, INTERRUPTED_REASON } from '../dist/ts/archive/archive.js';
import { ArchiveError, storageFailureCode } from '../dist/ts/archive/errors.js';
import { redactUrl } from '../dist/ts/archive/postgres-connection.js';
import { DEFAULT_LEASE_MS } from '../dist/ts/archive/owners.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import type { NewLedgerEntry } from '../dist/ts/archive/types.js';
import { type ArchiveBackend, PostgresBackend, SqliteBackend } from './helpers/archive-backends.js';

const REFERENCE_SOURCE = '// the reference kernel\n';
const REFERENCE_MODULE = 'a'.repeat(64);
const WRITER = path.resolve('tests/fixtures/archive/concurrent-writer.mjs');

function seeded(location: string): { archive: Archive; rootId: number } {
  const archive = Archive.open(location);
  return { archive, rootId: archive.ensureRoot('step', REFERENCE_SOURCE, REFERENCE_MODULE).id };
}

/** A convergence under `key`: the step slot's reference module, bounded by an in-cache ceiling. */
function convergedAt(key: { machine: string; extents: number[]; precision: 'f32' | 'f64'; threads: number }) {
  return {
    ...key,
    slot: 'step' as const,
    moduleSha256: REFERENCE_MODULE,
    generator: 'variant',
    expectedGainSeconds: 1.5,
    attemptCostSeconds: 10.35,
    ceiling: { kind: 'in-cache' as const, mlups: 452.5 },
    inCacheMlups: 452.5,
    liveMlups: 389.5,
  };
}

function attempt(archive: Archive, rootId: number, operator: string): number {
  return archive.insertAttempt({
    parentId: rootId,
    slot: 'step',
    generator: 'variant',
    operator,
    genome: { operator },
    prompt: null,
    source: `// ${operator}\n`,
  }).id;
}

function entry(attemptId: number, atStep: number): NewLedgerEntry {
  return { action: 'apply', slot: 'step', attemptId, moduleSha256: 'b'.repeat(64), previousModuleSha256: REFERENCE_MODULE, atStep, reason: `step ${atStep}` };
}

/** An archive with three ledger entries, closed. */
function withThreeEntries(location: string): void {
  const { archive, rootId } = seeded(location);
  for (const step of [10, 20, 30]) archive.ledger.append(entry(attempt(archive, rootId, `op${step}`), step));
  archive.close();
}

function verify(location: string): ReturnType<Archive['ledger']['verify']> {
  const archive = Archive.open(location);
  try {
    return archive.ledger.verify();
  } finally {
    archive.close();
  }
}

function writer(location: string, name: string, rounds: number): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const child = spawn(process.execPath, [WRITER, location, name, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

async function firstLine(lines: AsyncIterableIterator<string>): Promise<string> {
  const next = await lines.next();
  return next.done ? '' : next.value;
}

describe.each([new SqliteBackend(), new PostgresBackend()] as ArchiveBackend[])('archive on $name', (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it('keeps attempts, their seals and the ledger across a reopening', async () => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    const id = attempt(archive, rootId, 'first');
    archive.updateAttempt(id, { status: 'rejected', failedGate: 'compile', reason: 'does not compile', benchRatio: 0.8125 });
    const appended = archive.ledger.append(entry(id, 7));
    archive.close();
    const again = Archive.open(location);
    expect(again.get(id)).toMatchObject({ status: 'rejected', failedGate: 'compile', benchRatio: 0.8125, genome: { operator: 'first' } });
    expect(again.integrity(id)).toBe('intact');
    expect(again.counts().byFailedGate.compile).toBe(1);
    expect(again.list({ limit: 1, offset: 1 }).map((record) => record.id)).toEqual([id]);
    expect(again.childCounts('step')).toEqual(new Map([[rootId, 1]]));
    expect(again.ledger.entries()).toEqual([appended]);
    expect(again.ledger.verify()).toEqual({ ok: true, entries: 1, firstBad: null });
    again.close();
  });

  it("keeps a run's samples with every figure as it was given (8-byte reals, step counts beyond 2^31)", async () => {
    const location = await backend.fresh();
    const archive = Archive.open(location);
    const sample = { atMs: 1000.25, step: 2 ** 40 + 3, mlups: 1234.0625, intervalMs: 1000.5, heldMs: 0.1, energyDrift: 1e-15, inCacheMlups: null };
    const run = archive.runs.record({
      startedAt: '2026-12-06T15:00:00.000Z',
      finishedAt: '2026-12-06T15:03:00.000Z',
      baselineMlups: 70.1,
      rooflineMlups: 1812.3,
      driftTolerance: 1e-12,
      samples: [sample, { ...sample, atMs: 2000.25, step: 2 ** 40 + 9, inCacheMlups: 2600.7 }],
    });
    archive.close();
    const again = Archive.open(location);
    expect(again.runs.list()).toEqual([run]);
    expect(again.runs.samples(run.id)).toEqual([sample, { ...sample, atMs: 2000.25, step: 2 ** 40 + 9, inCacheMlups: 2600.7 }]);
    again.close();
  });

  it('keeps what attempts cost under their key, and gives back the latest of a key, the newest first', async () => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    const key = { machine: 'c'.repeat(64), extents: [4096, 4096], precision: 'f64' as const, threads: 2 };
    const costs = [41.5, 38.25, 55.125, 47.0625].map((costSeconds, index) =>
      archive.attemptCosts.record({ ...key, attemptId: attempt(archive, rootId, `cost${index}`), slot: 'step', costSeconds, wallSeconds: 60 + index }),
    );
    // Not comparable: another lattice, precision, thread count, machine or slot.
    const others = [{ extents: [1024, 1024] }, { precision: 'f32' as const }, { threads: 1 }, { machine: 'd'.repeat(64) }, { slot: 'readout' as const }];
    others.forEach((other, index) => {
      const parentId = other.slot === 'readout' ? archive.ensureRoot('readout', REFERENCE_SOURCE, REFERENCE_MODULE).id : rootId;
      const id = archive.insertAttempt({
        parentId,
        slot: other.slot ?? 'step',
        generator: 'variant',
        operator: `other${index}`,
        genome: null,
        prompt: null,
        source: `// other ${index}\n`,
      }).id;
      archive.attemptCosts.record({ ...key, slot: 'step', ...other, attemptId: id, costSeconds: 1000, wallSeconds: 1 });
    });
    expect(() => archive.attemptCosts.record({ ...key, attemptId: costs[0]!.attemptId, slot: 'step', costSeconds: -1, wallSeconds: 1 })).toThrow(
      'cost.costSeconds = -1: must be >= 0',
    );
    archive.close();
    const again = Archive.open(location);
    expect(again.attemptCosts.recent(key, ['step'], 3)).toEqual([costs[3], costs[2], costs[1]]);
    expect(again.attemptCosts.recent(key, ['step'], 10).map((cost) => cost.costSeconds)).toEqual([47.0625, 55.125, 38.25, 41.5]);
    expect(again.attemptCosts.recent(key, ['step', 'readout'], 10)).toHaveLength(5);
    expect(again.attemptCosts.recent({ ...key, extents: [512, 512] }, ['step'], 10)).toEqual([]);
    again.close();
  });

  it('keeps the latest baseline of each module under its machine, lattice, precision and threads', async () => {
    const location = await backend.fresh();
    const { archive } = seeded(location);
    const key = { machine: 'c'.repeat(64), extents: [4096, 4096], precision: 'f64' as const, threads: 2 };
    expect(archive.baselines.latest(key, REFERENCE_MODULE)).toBeNull();
    archive.baselines.record({ ...key, moduleSha256: REFERENCE_MODULE, mlups: 80.25, steps: 5 });
    const other = 'b'.repeat(64);
    archive.baselines.record({ ...key, moduleSha256: other, mlups: 389.5, steps: 40 });
    // Measured again: it replaces the earlier figure of its key and module.
    const latest = archive.baselines.record({ ...key, moduleSha256: REFERENCE_MODULE, mlups: 78.5, steps: 6 });
    expect(latest).toMatchObject({ ...key, moduleSha256: REFERENCE_MODULE, mlups: 78.5, steps: 6 });
    for (const different of [{ extents: [1024, 1024] }, { precision: 'f32' as const }, { threads: 1 }, { machine: 'd'.repeat(64) }]) {
      expect(archive.baselines.latest({ ...key, ...different }, REFERENCE_MODULE)).toBeNull();
    }
    expect(() => archive.baselines.record({ ...key, moduleSha256: REFERENCE_MODULE, mlups: 0, steps: 6 })).toThrow('baseline.mlups = 0: must be > 0');
    archive.close();
    const again = Archive.open(location);
    expect(again.baselines.latest(key, REFERENCE_MODULE)).toEqual(latest);
    expect(again.baselines.latest(key, other)?.mlups).toBe(389.5);
    again.close();
  });

  it('keeps the convergence a run ended in under its machine, lattice, precision and threads, the latest in place of the one before', async () => {
    const location = await backend.fresh();
    const { archive } = seeded(location);
    const key = { machine: 'c'.repeat(64), extents: [4096, 4096], precision: 'f64' as const, threads: 2 };
    expect(archive.convergence.latest(key)).toBeNull();
    archive.convergence.record(convergedAt(key));
    const latest = archive.convergence.record({ ...convergedAt(key), moduleSha256: 'b'.repeat(64), ceiling: null, inCacheMlups: null, liveMlups: 401.25 });
    expect(latest).toEqual({
      ...convergedAt(key),
      moduleSha256: 'b'.repeat(64),
      ceiling: null,
      inCacheMlups: null,
      liveMlups: 401.25,
      recordedAt: expect.any(String),
    });
    for (const different of [{ extents: [1024, 1024] }, { precision: 'f32' as const }, { threads: 1 }, { machine: 'd'.repeat(64) }]) {
      expect(archive.convergence.latest({ ...key, ...different })).toBeNull();
    }
    expect(() => archive.convergence.record({ ...convergedAt(key), liveMlups: 0 })).toThrow('convergence.liveMlups = 0: must be > 0');
    expect(() => archive.convergence.record({ ...convergedAt(key), attemptCostSeconds: -1 })).toThrow('convergence.attemptCostSeconds = -1: must be >= 0');
    archive.close();
    const again = Archive.open(location);
    expect(again.convergence.latest(key)).toEqual(latest);
    expect(again.convergence.forget({ ...key, threads: 1 })).toBe(false);
    expect(again.convergence.forget(key)).toBe(true);
    expect(again.convergence.latest(key)).toBeNull();
    again.close();
  });

  // Each older version lacked the tables the later ones added: it is opened with
  // its rows kept, and both tables then keep what is recorded in them.
  it.each([
    [5, 'attempt costs', ['attempt_costs', 'baselines', 'convergence']],
    [6, 'baselines', ['baselines', 'convergence']],
    [7, 'convergence', ['convergence']],
  ] as const)('migrates an archive of schema version %i, which kept no %s', async (version, _lacked, dropped) => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    const id = attempt(archive, rootId, 'old');
    archive.close();
    const drops = dropped.map((table) => `DROP TABLE ${table};`).join(' ');
    await backend.plain(
      location,
      backend.name === 'sqlite' ? `${drops} PRAGMA user_version = ${version};` : `${drops} UPDATE archive_identity SET version = ${version} WHERE id = 1;`,
    );
    const migrated = Archive.open(location);
    if (backend.name === 'sqlite') expect(migrated.migratedFrom).toBe(version);
    expect(migrated.get(id)?.operator).toBe('old');
    const key = { machine: 'c'.repeat(64), extents: [64, 64], precision: 'f32' as const, threads: 1 };
    expect(migrated.attemptCosts.recent(key, ['step'], 5)).toEqual([]);
    migrated.attemptCosts.record({ ...key, attemptId: id, slot: 'step', costSeconds: 12.5, wallSeconds: 30 });
    expect(migrated.attemptCosts.recent(key, ['step'], 5).map((cost) => cost.costSeconds)).toEqual([12.5]);
    expect(migrated.baselines.latest(key, REFERENCE_MODULE)).toBeNull();
    migrated.baselines.record({ ...key, moduleSha256: REFERENCE_MODULE, mlups: 12.5, steps: 3 });
    expect(migrated.baselines.latest(key, REFERENCE_MODULE)?.mlups).toBe(12.5);
    expect(migrated.convergence.latest(key)).toBeNull();
    migrated.convergence.record({ ...convergedAt(key), liveMlups: 12.5 });
    expect(migrated.convergence.latest(key)?.liveMlups).toBe(12.5);
    migrated.close();
    // Opened again, it is an archive of this version: nothing to migrate.
    const reopened = Archive.open(location);
    expect(reopened.migratedFrom).toBeNull();
    reopened.close();
  });

  it('refuses to update or delete a ledger entry through its triggers', async () => {
    const location = await backend.fresh();
    withThreeEntries(location);
    await expect(backend.plain(location, "UPDATE ledger SET reason = 'forged' WHERE sequence = 2")).rejects.toThrow(
      'the ledger is append-only: an entry cannot be updated',
    );
    await expect(backend.plain(location, 'DELETE FROM ledger WHERE sequence = 3')).rejects.toThrow('the ledger is append-only: an entry cannot be deleted');
    await expect(backend.plain(location, 'UPDATE ledger_head SET sequence = 1')).rejects.toThrow('the ledger head only advances by one entry at a time');
    expect(verify(location)).toEqual({ ok: true, entries: 3, firstBad: null });
  });

  it('ledger verify finds an edited entry', async () => {
    const location = await backend.fresh();
    withThreeEntries(location);
    await backend.tamper(location, "UPDATE ledger SET reason = 'forged' WHERE sequence = 2");
    const result = verify(location);
    expect(result.ok).toBe(false);
    expect(result.firstBad?.sequence).toBe(2);
    expect(result.firstBad?.reason).toContain('does not match its contents');
  });

  it('ledger verify finds a removed entry', async () => {
    const location = await backend.fresh();
    withThreeEntries(location);
    await backend.tamper(location, 'DELETE FROM ledger WHERE sequence = 2');
    expect(verify(location)).toMatchObject({ ok: false, firstBad: { sequence: 3, reason: expect.stringContaining('entry 2 was removed') } });
  });

  it('ledger verify finds a reordered pair', async () => {
    const location = await backend.fresh();
    withThreeEntries(location);
    await backend.tamper(
      location,
      'UPDATE ledger SET sequence = 100 WHERE sequence = 2; UPDATE ledger SET sequence = 2 WHERE sequence = 3; UPDATE ledger SET sequence = 3 WHERE sequence = 100',
    );
    expect(verify(location)).toMatchObject({ ok: false, firstBad: { sequence: 2, reason: expect.stringContaining('is not the hash of entry 1') } });
  });

  it('finds an attempt row edited behind the archive', async () => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    const id = attempt(archive, rootId, 'edited');
    archive.updateAttempt(id, { status: 'rejected', reason: 'slower' });
    archive.close();
    await backend.tamper(location, `UPDATE attempts SET status = 'applied' WHERE id = ${id}`);
    const again = Archive.open(location);
    expect(again.integrity(id)).toBe('edited');
    expect(again.editedAttempts()).toEqual([id]);
    again.close();
  });

  it('keeps one valid chain when two processes append attempts and ledger entries at once', async () => {
    const location = await backend.fresh();
    // The schema exists before the writers race for it; creating it at once is the open's own test below.
    seeded(location).archive.close();
    const rounds = 25;
    const writers = ['engine-a', 'engine-b'].map((name) => writer(location, name, rounds));
    expect(await Promise.all(writers.map(({ lines }) => firstLine(lines)))).toEqual(['done', 'done']);
    const archive = Archive.open(location);
    expect(archive.ledger.verify()).toEqual({ ok: true, entries: 2 * rounds, firstBad: null });
    expect(archive.counts().byStatus.passed).toBe(2 * rounds);
    expect(archive.editedAttempts()).toEqual([]);
    const reasons = archive.ledger.entries().map((e) => e.reason);
    expect(new Set(reasons).size).toBe(2 * rounds);
    archive.close();
  });

  it('two engines opening a new archive at once both find one schema', async () => {
    const location = await backend.fresh();
    const writers = ['engine-a', 'engine-b'].map((name) => writer(location, name, 1));
    expect(await Promise.all(writers.map(({ lines }) => firstLine(lines)))).toEqual(['done', 'done']);
    expect(verify(location)).toEqual({ ok: true, entries: 2, firstBad: null });
  });

  it("leaves another engine's attempt in flight pending, and closes it once its lease runs out", async () => {
    const location = await backend.fresh();
    const { archive: engineA, rootId } = seeded(location);
    const inFlight = attempt(engineA, rootId, 'a in flight');
    const engineB = Archive.open(location);
    expect(engineB.orphanedAttempts()).toEqual([]);
    expect(engineB.markInterrupted()).toBe(0);
    expect(engineB.get(inFlight)!.status).toBe('pending');
    engineB.close();
    // The same engine B, later than A's last heartbeat by more than a lease.
    const later = Archive.open(location, { nowMs: () => Date.now() + 2 * DEFAULT_LEASE_MS });
    expect(later.orphanedAttempts().map((record) => record.id)).toEqual([inFlight]);
    expect(later.markInterrupted()).toBe(1);
    expect(later.get(inFlight)).toMatchObject({ status: 'interrupted', reason: INTERRUPTED_REASON });
    expect(later.integrity(inFlight)).toBe('intact');
    later.close();
    engineA.close();
  });

  it('closes at once the attempts of an engine that closed the archive or was killed', async () => {
    const location = await backend.fresh();
    const { archive: engineA, rootId } = seeded(location);
    const leftByA = attempt(engineA, rootId, 'a left it');
    engineA.close();
    const killed = writer(location, 'engine-k', 0);
    const leftByKilled = Number((await firstLine(killed.lines)).split(' ')[1]);
    const engineB = Archive.open(location);
    expect(engineB.markInterrupted()).toBe(1);
    expect(engineB.get(leftByA)!.status).toBe('interrupted');
    expect(engineB.get(leftByKilled)!.status).toBe('pending');
    const exited = new Promise((resolve) => killed.child.once('exit', resolve));
    killed.child.kill('SIGKILL');
    await exited;
    expect(engineB.markInterrupted()).toBe(1);
    expect(engineB.get(leftByKilled)!.status).toBe('interrupted');
    engineB.close();
  });
});

describe('archive on PostgreSQL: failures', () => {
  const backend = new PostgresBackend();
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it('is read by the archive and ledger commands through its URL, printed without the password', async () => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    archive.ledger.append(entry(attempt(archive, rootId, 'first'), 3));
    archive.close();
    const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/ouroboros.js', ...args, '--archive', location], { encoding: 'utf8', timeout: 60_000 });
    const verified = cli('ledger', 'verify', '--json');
    expect(verified.status, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { archive: string; ok: boolean; entries: number };
    expect(report).toMatchObject({ archive: redactUrl(location), ok: true, entries: 1 });
    const listed = cli('archive', 'list');
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('first');
  });

  it('names the server without its password when it cannot be reached', () => {
    const url = 'postgres://ouroboros:s3cret@127.0.0.1:1/archive';
    let error: unknown;
    try {
      Archive.open(url, { timeoutMs: 5000 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as Error).message).toContain('archive postgres://ouroboros:***@127.0.0.1:1/archive cannot be reached');
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('archive.url takes only a PostgreSQL URL, and its error does not repeat the password', () => {
    expect(resolveConfig({ archive: { url: 'postgres://u@127.0.0.1:5432/db' } }).archive.url).toBe('postgres://u@127.0.0.1:5432/db');
    expect(() => resolveConfig({ archive: { url: 'mysql://u:s3cret@127.0.0.1/db' } })).toThrow(
      /^archive\.url = "mysql:\/\/u:\*\*\*@127\.0\.0\.1\/db": must be a PostgreSQL URL/,
    );
  });

  it('refuses a database that holds another application', async () => {
    const location = await backend.fresh();
    await backend.query(location, 'CREATE TABLE invoices (id INTEGER)');
    expect(() => Archive.open(location)).toThrow(/is a database of another application \(tables: invoices/);
  });

  it('turns a lost server into a storage failure, as a full disk is', async () => {
    const location = await backend.fresh();
    const { archive, rootId } = seeded(location);
    await backend.stop();
    let error: unknown;
    try {
      attempt(archive, rootId, 'after the loss');
    } catch (caught) {
      error = caught;
    }
    expect(storageFailureCode(error)).not.toBeNull();
    // The connection is not reused: every later call fails the same way.
    expect(() => archive.get(rootId)).toThrow();
    archive.close();
    await backend.start();
  });
});
