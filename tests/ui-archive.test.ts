// The archive's record of approval decisions: a row with who and when, and a
// ledger entry in the same transaction; and the v2 -> v3 migration that adds
// the table to an older archive.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive, SCHEMA_VERSION } from '../dist/ts/archive/index.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-archive-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function seeded(name: string): { archive: Archive; file: string; rootId: number; childId: number } {
  const file = path.join(root, `${name}.sqlite`);
  const archive = Archive.open(file);
  const rootId = archive.ensureRoot('step', '// reference', SHA_A).id;
  const childId = archive.insertAttempt({ parentId: rootId, slot: 'step', generator: 'fixture', operator: 'fixture', genome: null, prompt: null, source: '// child' }).id;
  return { archive, file, rootId, childId };
}

describe('Archive.approvals', () => {
  it('records a decision with who and when, and the same decision in the ledger', () => {
    const { archive, childId } = seeded('record');
    try {
      const { approval, entry } = archive.approvals.record({
        attemptId: childId, slot: 'step', decision: 'reject', decidedBy: 'ada (dashboard, 127.0.0.1)', moduleSha256: SHA_B, incumbentModuleSha256: SHA_A, atStep: 42,
      });
      expect(approval).toMatchObject({ attemptId: childId, decision: 'reject', decidedBy: 'ada (dashboard, 127.0.0.1)', ledgerSequence: entry.sequence });
      expect(entry).toMatchObject({ action: 'reject', slot: 'step', attemptId: childId, atStep: 42, reason: `rejected by ada (dashboard, 127.0.0.1) at ${approval.decidedAt}` });
      expect(archive.approvals.get(childId)).toEqual(approval);
      expect(archive.ledger.verify()).toEqual({ ok: true, entries: 1, firstBad: null });
      // Decided once: a second decision is refused and writes nothing.
      expect(() =>
        archive.approvals.record({ attemptId: childId, slot: 'step', decision: 'approve', decidedBy: 'bob', moduleSha256: SHA_B, incumbentModuleSha256: SHA_A, atStep: 43 }),
      ).toThrow(`approval.attemptId = ${childId}: was decided already`);
      expect(archive.ledger.entries()).toHaveLength(1);
    } finally {
      archive.close();
    }
  });

  it('migrates a version-2 archive, adding the approvals table and keeping every row intact', () => {
    const { archive, file, childId } = seeded('migrate');
    archive.close();
    const db = new Database(file);
    db.exec('DROP TABLE approvals; PRAGMA user_version = 2;');
    db.close();
    const reopened = Archive.open(file);
    try {
      expect(reopened.migratedFrom).toBe(2);
      expect(reopened.integrity(childId)).toBe('intact');
      expect(reopened.approvals.list()).toEqual([]);
    } finally {
      reopened.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });

  it('refuses a version-3 archive whose approvals table was dropped', () => {
    const { archive, file } = seeded('dropped');
    archive.close();
    const db = new Database(file);
    db.exec('DROP TABLE approvals;');
    db.close();
    expect(() => Archive.open(file)).toThrow('lacks the table approvals');
  });
});
