// What schema version 3 adds for the dashboard: approval decisions (a row
// with who and when, and a ledger entry in the same transaction) and the
// LLM's raw reply; and the v2 -> v3 migration that adds both to an older
// archive without changing its rows' hashes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive, SCHEMA_VERSION } from '../dist/ts/archive/index.js';
import { resolveConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { type CandidateProposal, type Generator, GeneratorError } from '../dist/ts/generators/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-archive-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function seeded(name: string): { archive: Archive; file: string; rootId: number; childId: number } {
  const file = path.join(root, `${name}.sqlite`);
  const archive = Archive.open(file);
  const rootId = archive.ensureRoot('step', '// reference', SHA_A).id;
  const childId = archive.insertAttempt({
    parentId: rootId,
    slot: 'step',
    generator: 'fixture',
    operator: 'fixture',
    genome: null,
    prompt: null,
    source: '// child',
  }).id;
  return { archive, file, rootId, childId };
}

describe('Archive.approvals', () => {
  it('records a decision with who and when, and the same decision in the ledger', () => {
    const { archive, childId } = seeded('record');
    try {
      const { approval, entry } = archive.approvals.record({
        attemptId: childId,
        slot: 'step',
        decision: 'reject',
        decidedBy: 'ada (dashboard, 127.0.0.1)',
        moduleSha256: SHA_B,
        incumbentModuleSha256: SHA_A,
        atStep: 42,
      });
      expect(approval).toMatchObject({ attemptId: childId, decision: 'reject', decidedBy: 'ada (dashboard, 127.0.0.1)', ledgerSequence: entry.sequence });
      expect(entry).toMatchObject({
        action: 'reject',
        slot: 'step',
        attemptId: childId,
        atStep: 42,
        reason: `rejected by ada (dashboard, 127.0.0.1) at ${approval.decidedAt}`,
      });
      expect(archive.approvals.get(childId)).toEqual(approval);
      expect(archive.ledger.verify()).toEqual({ ok: true, entries: 1, firstBad: null });
      // Decided once: a second decision is refused and writes nothing.
      expect(() =>
        archive.approvals.record({
          attemptId: childId,
          slot: 'step',
          decision: 'approve',
          decidedBy: 'bob',
          moduleSha256: SHA_B,
          incumbentModuleSha256: SHA_A,
          atStep: 43,
        }),
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
    db.exec(
      'ALTER TABLE attempts DROP COLUMN raw_reply; DROP TABLE approvals; ALTER TABLE attempts DROP COLUMN owner; DROP TABLE owners; PRAGMA user_version = 2;',
    );
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

  it('refuses an archive whose approvals table was dropped', () => {
    const { archive, file } = seeded('dropped');
    archive.close();
    const db = new Database(file);
    db.exec('DROP TABLE approvals;');
    db.close();
    expect(() => Archive.open(file)).toThrow('lacks the table approvals');
  });
});

describe('the raw reply of an LLM attempt', () => {
  it('is kept with the attempt, sealed with the row, and a row without one keeps the hash it had', () => {
    const { archive, rootId, childId } = seeded('raw-reply');
    try {
      const reply = 'Here is the kernel:\n```cpp\nint x;\n```';
      const record = archive.insertAttempt({
        parentId: rootId,
        slot: 'step',
        generator: 'llm',
        operator: 'llm',
        genome: null,
        prompt: '[system]\n...',
        rawReply: reply,
        source: '',
      });
      expect(archive.get(record.id)!.rawReply).toBe(reply);
      expect(archive.integrity(record.id)).toBe('intact');
      expect(archive.get(childId)!.rawReply).toBeNull();
      expect(archive.integrity(childId)).toBe('intact');
    } finally {
      archive.close();
    }
  });

  it('is archived by the engine when the reply could not be read as a candidate', async () => {
    const dir = path.join(root, 'engine');
    const config = resolveConfig({
      archive: { path: path.join(dir, 'archive.sqlite'), warmStart: false },
      lattice: { extents: [64, 64] },
      log: { file: path.join(dir, 'engine.log') },
    });
    const malformed: Generator = {
      name: 'llm',
      propose: async (): Promise<CandidateProposal> => {
        throw new GeneratorError('malformed-reply', 'malformed reply: no fenced C++ code block', {
          prompt: '[system]\nrules',
          rawReply: 'I cannot help with that.',
        });
      },
    };
    const lat = createMainLattice(config.lattice);
    const engine = new Engine(lat, config, { generator: malformed, autoImprove: false });
    try {
      await engine.start();
      const record = await engine.attemptFinished(await engine.attemptImprovement());
      expect(record).toMatchObject({ status: 'failed', prompt: '[system]\nrules', rawReply: 'I cannot help with that.', source: '' });
      expect(record.reason).toContain('malformed reply');
    } finally {
      await engine.stop();
      lat.close();
    }
  });
});
