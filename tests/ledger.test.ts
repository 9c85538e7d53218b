import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/archive.js';
import { GENESIS_HASH, ledgerEntryHash } from '../dist/ts/archive/canonical-hash.js';
import { describeCaches, machineFingerprint, parseCpuInfo, withHash } from '../dist/ts/archive/fingerprint.js';
import type { LedgerEntry, MachineFingerprint, NewLedgerEntry } from '../dist/ts/archive/types.js';
import { HARDENED_FLAGS, parseMarch } from '../dist/ts/gauntlet/compile.js';

const REFERENCE_MODULE = 'a'.repeat(64);

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ledger-test-'));
  file = path.join(dir, 'archive.sqlite');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function module(n: number): string {
  return n.toString(16).padStart(64, '0');
}

/** An archive whose ledger holds `count` entries: applies of attempts 1..count-1 and a rollback. */
function archiveWithLedger(count: number): { archive: Archive; entries: LedgerEntry[] } {
  const archive = Archive.open(file);
  const root = archive.ensureRoot('step', '// reference\n', REFERENCE_MODULE);
  for (let n = 1; n <= count; n += 1) {
    const attempt = archive.insertAttempt({
      parentId: root.id,
      slot: 'step',
      generator: 'variant',
      operator: `mutate:${n}`,
      genome: { n },
      prompt: null,
      source: `// ${n}\n`,
    });
    archive.updateAttempt(attempt.id, { status: 'applied', moduleSha256: module(n) });
    const change: NewLedgerEntry =
      n === count
        ? {
            action: 'rollback',
            slot: 'step',
            attemptId: null,
            moduleSha256: module(n - 1),
            previousModuleSha256: module(n),
            atStep: n * 1000 + 7,
            reason: 'throughput fell 9% in the watch window',
          }
        : {
            action: 'apply',
            slot: 'step',
            attemptId: attempt.id,
            moduleSha256: module(n),
            previousModuleSha256: n === 1 ? REFERENCE_MODULE : module(n - 1),
            atStep: n * 1000,
            reason: `won by ${n}%`,
          };
    archive.ledger.append(change);
  }
  return { archive, entries: archive.ledger.entries() };
}

/** Edits the file as someone with write access would: triggers dropped, then raw SQL. */
function tamper(edit: (db: Database.Database) => void): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER ledger_refuses_update; DROP TRIGGER ledger_refuses_delete; DROP TRIGGER ledger_head_only_advances;');
  edit(db);
  db.close();
}

const COLUMNS = 'sequence, action, slot, attempt_id, module_sha256, previous_module_sha256, at_step, reason, recorded_at, previous_hash, hash';

function insertRow(db: Database.Database, entry: LedgerEntry): void {
  db.prepare(`INSERT INTO ledger (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    entry.sequence,
    entry.action,
    entry.slot,
    entry.attemptId,
    entry.moduleSha256,
    entry.previousModuleSha256,
    entry.atStep,
    entry.reason,
    entry.recordedAt,
    entry.previousHash,
    entry.hash,
  );
}

function rewriteLedger(db: Database.Database, entries: LedgerEntry[]): void {
  db.exec('DELETE FROM ledger');
  for (const entry of entries) insertRow(db, entry);
}

function forged(fields: Omit<LedgerEntry, 'hash'>): LedgerEntry {
  return { ...fields, hash: ledgerEntryHash(fields) };
}

function verifyReopened() {
  const archive = Archive.open(file);
  const verification = archive.ledger.verify();
  archive.close();
  return verification;
}

describe('ledger', () => {
  it('chains appended entries and verifies them after reopening', () => {
    const { archive, entries } = archiveWithLedger(5);
    expect(entries.map((entry) => entry.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]!.previousHash).toBe(GENESIS_HASH);
    entries.forEach((entry, index) => {
      const { hash, ...rest } = entry;
      expect(hash).toBe(ledgerEntryHash(rest));
      if (index > 0) expect(entry.previousHash).toBe(entries[index - 1]!.hash);
    });
    expect(entries[4]).toMatchObject({ action: 'rollback', attemptId: null, atStep: 5007, moduleSha256: module(4) });
    expect(archive.ledger.head()).toEqual({ sequence: 5, hash: entries[4]!.hash });
    expect(archive.ledger.latest('step')).toEqual(entries[4]);
    expect(archive.ledger.latest('readout')).toBeNull();
    archive.close();
    expect(verifyReopened()).toEqual({ ok: true, entries: 5, firstBad: null });
  });

  it('verifies an empty ledger', () => {
    const archive = Archive.open(file);
    expect(archive.ledger.verify()).toEqual({ ok: true, entries: 0, firstBad: null });
    expect(archive.ledger.head()).toEqual({ sequence: 0, hash: GENESIS_HASH });
    archive.close();
  });

  it('hashes a canonical encoding: any field changes the hash', () => {
    const { archive, entries } = archiveWithLedger(2);
    archive.close();
    const { hash, ...base } = entries[0]!;
    const variants: Omit<LedgerEntry, 'hash'>[] = [
      { ...base, sequence: 2 },
      { ...base, action: 'warm-start' },
      { ...base, slot: 'readout' },
      { ...base, attemptId: null },
      { ...base, attemptId: 0 },
      { ...base, moduleSha256: module(99) },
      { ...base, previousModuleSha256: module(99) },
      { ...base, atStep: base.atStep + 1 },
      { ...base, reason: `${base.reason}.` },
      { ...base, recordedAt: '2000-01-01T00:00:00.000Z' },
      { ...base, previousHash: module(1) },
    ];
    const hashes = new Set([hash, ...variants.map(ledgerEntryHash)]);
    expect(hashes.size).toBe(variants.length + 1);
    expect(ledgerEntryHash({ ...base })).toBe(hash);
  });

  it('refuses UPDATE and DELETE while its triggers are in place', () => {
    const { archive } = archiveWithLedger(2);
    archive.close();
    const db = new Database(file);
    expect(() => db.prepare("UPDATE ledger SET reason = 'x' WHERE sequence = 1").run()).toThrow('the ledger is append-only: an entry cannot be updated');
    expect(() => db.prepare('DELETE FROM ledger WHERE sequence = 2').run()).toThrow('the ledger is append-only: an entry cannot be deleted');
    expect(() => db.prepare('UPDATE ledger_head SET sequence = 1').run()).toThrow('the ledger head only advances by one entry at a time');
    db.close();
    expect(verifyReopened().ok).toBe(true);
  });

  it('refuses malformed changes naming the field', () => {
    const { archive } = archiveWithLedger(1);
    const readout = archive.ensureRoot('readout', '// readout\n', REFERENCE_MODULE);
    const good: NewLedgerEntry = {
      action: 'apply',
      slot: 'step',
      attemptId: null,
      moduleSha256: module(1),
      previousModuleSha256: module(2),
      atStep: 0,
      reason: '',
    };
    expect(() => archive.ledger.append({ ...good, action: 'revert' as 'apply' })).toThrow(
      'change.action = "revert": must be one of apply, rollback, warm-start',
    );
    expect(() => archive.ledger.append({ ...good, moduleSha256: 'ABC' })).toThrow('change.moduleSha256 = "ABC": must be 64 lowercase hex digits');
    expect(() => archive.ledger.append({ ...good, atStep: -1 })).toThrow('change.atStep = -1: must be an integer in [0,');
    expect(() => archive.ledger.append({ ...good, attemptId: readout.id })).toThrow(
      `change.attemptId = ${readout.id}: is an attempt of slot readout, not step`,
    );
    expect(() => archive.ledger.append({ ...good, attemptId: 500 })).toThrow('change.attemptId = 500: is not an attempt in archive');
    expect(archive.ledger.entries()).toHaveLength(1);
    archive.close();
  });
});

describe('ledger tampering', () => {
  it('detects an edited field', () => {
    archiveWithLedger(5).archive.close();
    tamper((db) => db.prepare("UPDATE ledger SET reason = 'won by 50%' WHERE sequence = 3").run());
    expect(verifyReopened()).toEqual({
      ok: false,
      entries: 5,
      firstBad: { sequence: 3, reason: expect.stringMatching(/does not match its contents: the entry was edited/) },
    });
  });

  it('detects an edited step count', () => {
    archiveWithLedger(5).archive.close();
    tamper((db) => db.prepare('UPDATE ledger SET at_step = at_step + 1 WHERE sequence = 5').run());
    expect(verifyReopened().firstBad).toEqual({ sequence: 5, reason: expect.stringMatching(/the entry was edited/) });
  });

  it('detects a removed entry', () => {
    archiveWithLedger(5).archive.close();
    tamper((db) => db.prepare('DELETE FROM ledger WHERE sequence = 3').run());
    expect(verifyReopened()).toEqual({ ok: false, entries: 4, firstBad: { sequence: 4, reason: 'it follows entry 2: entry 3 was removed' } });
  });

  it('detects a removed entry when the rest was renumbered', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    tamper((db) => rewriteLedger(db, [entries[0]!, entries[1]!, { ...entries[3]!, sequence: 3 }, { ...entries[4]!, sequence: 4 }]));
    expect(verifyReopened().firstBad).toEqual({ sequence: 3, reason: expect.stringMatching(/is not the hash of entry 2 .*removed/) });
  });

  it('detects the last entry removed, through the head record', () => {
    archiveWithLedger(5).archive.close();
    tamper((db) => db.prepare('DELETE FROM ledger WHERE sequence = 5').run());
    expect(verifyReopened().firstBad).toEqual({ sequence: 5, reason: 'the head records 5 entries but the ledger holds 4: entries from 5 on were removed' });
  });

  it('detects a reordered pair', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    const [e1, e2, e3, e4, e5] = entries as [LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry];
    tamper((db) => rewriteLedger(db, [e1, { ...e3, sequence: 2 }, { ...e2, sequence: 3 }, e4, e5]));
    expect(verifyReopened().firstBad).toEqual({ sequence: 2, reason: expect.stringMatching(/previousHash .* is not the hash of entry 1 .*reordered/) });
  });

  it('detects a pair swapped with its sequence numbers', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    const [e1, e2, e3, e4, e5] = entries as [LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry];
    tamper((db) => rewriteLedger(db, [e1, { ...e3, sequence: 2, previousHash: e1.hash }, { ...e2, sequence: 3, previousHash: e3.hash }, e4, e5]));
    expect(verifyReopened().firstBad).toEqual({ sequence: 2, reason: expect.stringMatching(/the entry was edited/) });
  });

  it('detects a forged entry inserted in the middle with a valid hash of its own', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    const [e1, e2, e3, e4, e5] = entries as [LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry, LedgerEntry];
    const forgery = forged({ ...e2, sequence: 3, attemptId: null, moduleSha256: module(666), reason: 'forged', previousHash: e2.hash });
    tamper((db) => {
      rewriteLedger(db, [e1, e2, forgery, { ...e3, sequence: 4 }, { ...e4, sequence: 5 }, { ...e5, sequence: 6 }]);
      db.prepare('UPDATE ledger_head SET sequence = 6').run();
    });
    const verification = verifyReopened();
    expect(verification.entries).toBe(6);
    expect(verification.firstBad).toEqual({ sequence: 4, reason: expect.stringMatching(/previousHash .* is not the hash of entry 3 .*inserted/) });
  });

  it('detects a forged entry appended at the end, through the head record', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    const last = entries[4]!;
    tamper((db) => insertRow(db, forged({ ...last, sequence: 6, reason: 'forged', previousHash: last.hash })));
    expect(verifyReopened().firstBad).toEqual({
      sequence: 6,
      reason: 'it lies beyond the head the ledger recorded (entry 5): it was not appended by the ledger',
    });
    const reopened = Archive.open(file);
    expect(() =>
      reopened.ledger.append({
        action: 'apply',
        slot: 'step',
        attemptId: null,
        moduleSha256: module(7),
        previousModuleSha256: module(6),
        atStep: 1,
        reason: '',
      }),
    ).toThrow(/does not end where its head record says \(sequence 5\).*nothing was appended/);
    reopened.close();
  });

  it('detects an edit whose hash was recomputed: the chain breaks at the next entry', () => {
    const { archive, entries } = archiveWithLedger(5);
    archive.close();
    const { hash: _hash, ...e2 } = entries[1]!;
    const rewritten = forged({ ...e2, reason: 'won by 90%' });
    tamper((db) => db.prepare('UPDATE ledger SET reason = ?, hash = ? WHERE sequence = 2').run(rewritten.reason, rewritten.hash));
    expect(verifyReopened().firstBad).toEqual({ sequence: 3, reason: expect.stringMatching(/previousHash .* is not the hash of entry 2 \(/) });
  });

  it('detects a deleted head record', () => {
    archiveWithLedger(3).archive.close();
    tamper((db) => {
      db.exec('DROP TRIGGER ledger_head_refuses_delete');
      db.prepare('DELETE FROM ledger_head').run();
    });
    expect(verifyReopened().firstBad).toEqual({ sequence: 1, reason: 'the ledger has entries but no head record: the head was deleted' });
  });
});

describe('machine fingerprint', () => {
  it('describes this machine with a stable hash', async () => {
    const first = await machineFingerprint();
    const second = await machineFingerprint();
    expect(second).toEqual(first);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.buildFlags).toEqual([...HARDENED_FLAGS, `-march=${first.march}`]);
    expect(first.march).toBe(parseMarch(execFileSync('g++', ['-march=native', '-Q', '--help=target'], { encoding: 'utf8' })));
    expect(first.compilerVersion).toBe(execFileSync('g++', ['--version'], { encoding: 'utf8' }).split('\n')[0]);
    expect(first.nodeVersion).toBe(process.version);
    expect(first.arch).toBe(process.arch);
    expect(first.cpuFlags).toEqual([...new Set(first.cpuFlags)].sort());
    expect(withHash({ ...first, cpuFlags: [...first.cpuFlags].reverse() }).hash).toBe(first.hash);
    expect(withHash({ ...first, compilerVersion: `${first.compilerVersion} ` }).hash).not.toBe(first.hash);
  });

  it('names the -march that -march=native resolves to, and the data caches sysfs lists', () => {
    expect(parseMarch('  -m3dnow  [disabled]\n  -march=                     \t\tznver3\n  -mtune=  \t\tznver3\n')).toBe('znver3');
    expect(parseMarch('no such option here')).toBe('x86-64');
    const sysfs = [
      { level: '2', type: 'Unified', size: '1024K' },
      { level: '1', type: 'Instruction', size: '32K' },
      { level: '1', type: 'Data', size: '32K' },
      { level: '3', type: 'Unified', size: '32768K' },
    ];
    expect(describeCaches(sysfs)).toBe('L1d 32K, L2 1024K, L3 32768K');
    expect(describeCaches([])).toBe('');
  });

  it('reads the model and flags of the first processor from x86 and Arm cpuinfo', () => {
    const x86 = 'processor\t: 0\nmodel name\t: AMD EPYC 9654\nflags\t\t: sse2 avx2 fma avx2\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: sse2\n';
    expect(parseCpuInfo(x86)).toEqual({ cpuModel: 'AMD EPYC 9654', cpuFlags: ['avx2', 'fma', 'sse2'] });
    const arm = 'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve\nCPU part\t: 0xd40\n';
    expect(parseCpuInfo(arm)).toEqual({ cpuModel: '0xd40', cpuFlags: ['asimd', 'fp', 'sve'] });
    expect(parseCpuInfo('')).toEqual({ cpuModel: '', cpuFlags: [] });
  });
});

describe('warm start', () => {
  function archiveWithWinner() {
    const archive = Archive.open(file);
    const root = archive.ensureRoot('step', '// reference\n', REFERENCE_MODULE);
    const winner = archive.insertAttempt({
      parentId: root.id,
      slot: 'step',
      generator: 'variant',
      operator: 'mutate:tile',
      genome: { tile: 64 },
      prompt: null,
      source: '// tiled 64\n',
    });
    archive.updateAttempt(winner.id, { status: 'applied', moduleSha256: module(64), speedup: 3 });
    return { archive, root, winner: archive.get(winner.id)! };
  }

  it('offers the remembered module back under the same fingerprint, after reopening', async () => {
    const fingerprint = await machineFingerprint();
    const { archive, winner } = archiveWithWinner();
    const memory = archive.warmStart.rememberBest('step', winner.id, fingerprint);
    expect(memory).toMatchObject({ slot: 'step', attemptId: winner.id, fingerprint });
    archive.close();

    const reopened = Archive.open(file);
    expect(reopened.warmStart.warmStartCandidate('step', await machineFingerprint())).toEqual({
      kind: 'match',
      slot: 'step',
      attemptId: winner.id,
      source: '// tiled 64\n',
      sourceSha256: winner.sourceSha256,
      moduleSha256: module(64),
      rememberedAt: memory.rememberedAt,
    });
    expect(reopened.warmStart.warmStartCandidate('readout', fingerprint)).toEqual({ kind: 'none', slot: 'readout' });
    reopened.close();
  });

  it('refuses it when a CPU flag differs, naming the field and the flag', async () => {
    const fingerprint = await machineFingerprint();
    const { archive, winner } = archiveWithWinner();
    // A made-up flag: any real one (amx_tile was used) may be this machine's own, and then nothing differs.
    archive.warmStart.rememberBest('step', winner.id, withHash({ ...fingerprint, cpuFlags: [...fingerprint.cpuFlags, 'flag_of_another_cpu'] }));
    const candidate = archive.warmStart.warmStartCandidate('step', fingerprint);
    expect(candidate).toEqual({
      kind: 'mismatch',
      slot: 'step',
      attemptId: winner.id,
      differences: [{ field: 'cpuFlags', remembered: 'flag_of_another_cpu', current: '' }],
      reason: 'remembered under another fingerprint, not trusted here: cpuFlags differ (only where remembered: flag_of_another_cpu; only here: none)',
    });
    archive.close();
  });

  it('refuses it when the compiler version differs, naming both versions', async () => {
    const fingerprint = await machineFingerprint();
    const { archive, winner } = archiveWithWinner();
    archive.warmStart.rememberBest('step', winner.id, withHash({ ...fingerprint, compilerVersion: 'g++ (GCC) 11.4.0' }));
    const candidate = archive.warmStart.warmStartCandidate('step', fingerprint);
    expect(candidate.kind).toBe('mismatch');
    if (candidate.kind !== 'mismatch') return;
    expect(candidate.differences).toEqual([{ field: 'compilerVersion', remembered: 'g++ (GCC) 11.4.0', current: fingerprint.compilerVersion }]);
    expect(candidate.reason).toContain(`compilerVersion differs (remembered "g++ (GCC) 11.4.0", here ${JSON.stringify(fingerprint.compilerVersion)})`);
    archive.close();
  });

  it('lists every differing field, and a remembered fingerprint edited in the file', async () => {
    const fingerprint = await machineFingerprint();
    const { archive, winner } = archiveWithWinner();
    archive.warmStart.rememberBest('step', winner.id, withHash({ ...fingerprint, buildFlags: ['-O2'], arch: 'arm64', nodeVersion: 'v22.0.0' }));
    const candidate = archive.warmStart.warmStartCandidate('step', fingerprint);
    expect(candidate.kind === 'mismatch' && candidate.differences.map((difference) => difference.field)).toEqual(['buildFlags', 'nodeVersion', 'arch']);
    archive.close();

    const db = new Database(file);
    const edited: MachineFingerprint = { ...fingerprint, cpuModel: 'Edited CPU' };
    db.prepare("UPDATE warm_start SET fingerprint = ? WHERE slot = 'step'").run(JSON.stringify(edited));
    db.close();
    const reopened = Archive.open(file);
    const afterEdit = reopened.warmStart.warmStartCandidate('step', fingerprint);
    expect(afterEdit.kind === 'mismatch' && afterEdit.differences.map((difference) => difference.field)).toEqual(['cpuModel', 'hash']);
    reopened.close();
  });

  it('remembers only verified modules of the slot, under a fingerprint that matches its hash', async () => {
    const fingerprint = await machineFingerprint();
    const { archive, root, winner } = archiveWithWinner();
    const rejected = archive.insertAttempt({
      parentId: root.id,
      slot: 'step',
      generator: 'variant',
      operator: 'x',
      genome: null,
      prompt: null,
      source: '// x\n',
    });
    archive.updateAttempt(rejected.id, { status: 'rejected', failedGate: 'dojo', reason: 'diverges' });
    expect(() => archive.warmStart.rememberBest('step', rejected.id, fingerprint)).toThrow(
      `attemptId = ${rejected.id}: has status rejected; only a passed, applied, superseded attempt is a verified module`,
    );
    expect(() => archive.warmStart.rememberBest('readout', winner.id, fingerprint)).toThrow(
      `attemptId = ${winner.id}: is an attempt of slot step, not readout`,
    );
    expect(() => archive.warmStart.rememberBest('step', 999, fingerprint)).toThrow('attemptId = 999: is not an attempt in archive');
    expect(() => archive.warmStart.rememberBest('step', root.id, { ...fingerprint, arch: 'riscv64' })).toThrow(
      /^fingerprint\.hash = ".*": does not match the fingerprint's fields/,
    );
    const unbuilt = archive.insertAttempt({
      parentId: root.id,
      slot: 'step',
      generator: 'variant',
      operator: 'y',
      genome: null,
      prompt: null,
      source: '// y\n',
      status: 'passed',
    });
    expect(() => archive.warmStart.rememberBest('step', unbuilt.id, fingerprint)).toThrow('has no built module');
    expect(archive.warmStart.remembered('step')).toBeNull();
    archive.warmStart.rememberBest('step', root.id, fingerprint);
    archive.warmStart.rememberBest('step', winner.id, fingerprint);
    expect(archive.warmStart.remembered('step')?.attemptId).toBe(winner.id);
    archive.close();
  });
});
