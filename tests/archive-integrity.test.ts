import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { machineFingerprint } from '../dist/ts/archive/fingerprint.js';
import { SCHEMA_VERSION } from '../dist/ts/archive/schema.js';

const cli = path.resolve('bin/ouroboros.js');
const MODULE = 'b'.repeat(64);

function archiveFile(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-integrity-')), 'archive.sqlite');
}

/** An archive with a root and one applied attempt, closed; returns the attempt's id. */
function seed(file: string): number {
  const archive = Archive.open(file);
  const root = archive.ensureRoot('step', '// reference\n', 'a'.repeat(64));
  const attempt = archive.insertAttempt({
    parentId: root.id,
    slot: 'step',
    generator: 'variant',
    operator: 'mutate',
    genome: { tile: 64 },
    prompt: null,
    source: '// tiled\n',
  });
  archive.updateAttempt(attempt.id, { status: 'applied', moduleSha256: MODULE, speedup: 3, gates: [] });
  archive.close();
  return attempt.id;
}

/** Changes the file behind the archive's back, as a hand or a tool would. */
function edit(file: string, sql: string): void {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

function cliRun(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('attempt rows carry a content hash', () => {
  it('stays intact through every write the archive makes', async () => {
    const file = archiveFile();
    const id = seed(file);
    const archive = Archive.open(file);
    const pending = archive.insertAttempt({
      parentId: id,
      slot: 'step',
      generator: 'variant',
      operator: 'mutate',
      genome: null,
      prompt: null,
      source: '// next\n',
    });
    archive.markInterrupted();
    archive.warmStart.rememberBest('step', id, await machineFingerprint());
    archive.warmStart.markFailed('step', id, 'failed its re-verification');
    expect(archive.get(pending.id)!.status).toBe('interrupted');
    expect(archive.editedAttempts()).toEqual([]);
    expect(archive.integrity(id)).toBe('intact');
    expect(archive.integrity(999)).toBeNull();
    archive.close();
  });

  it('shows a row edited by hand: archive show flags it, ledger verify fails naming it, the warm start refuses it', async () => {
    const file = archiveFile();
    const id = seed(file);
    const fingerprint = await machineFingerprint();
    const archive = Archive.open(file);
    archive.warmStart.rememberBest('step', id, fingerprint);
    archive.close();
    edit(file, `UPDATE attempts SET source = '// something else\n' WHERE id = ${id}`);

    const reopened = Archive.open(file);
    expect(reopened.integrity(id)).toBe('edited');
    expect(reopened.editedAttempts()).toEqual([id]);
    const candidate = reopened.warmStart.warmStartCandidate('step', fingerprint);
    expect(candidate).toMatchObject({ kind: 'mismatch', attemptId: id });
    expect((candidate as { reason: string }).reason).toContain('no longer matches its content hash');
    reopened.close();

    const shown = cliRun('archive', 'show', String(id), '--archive', file);
    expect(shown.stdout).toContain('integrity: EDITED: the row no longer matches its content hash');
    expect(JSON.parse(cliRun('archive', 'show', String(id), '--archive', file, '--json').stdout).integrity).toBe('edited');
    const verified = cliRun('ledger', 'verify', '--archive', file);
    expect(verified.stdout).toContain(`attempts edited outside the archive (rows no longer match their content hash): ${id}`);
    expect(verified.stderr).toContain(`attempt rows were edited outside the archive: ${id}`);
    expect(verified.code).toBe(1);
  });

  it('names the file, the attempt and the column of a malformed JSON cell', () => {
    const file = archiveFile();
    const id = seed(file);
    edit(file, `UPDATE attempts SET gates = '[{"gate":' WHERE id = ${id}`);
    const archive = Archive.open(file);
    expect(() => archive.list()).toThrow(new RegExp(`^archive ${file}: attempt ${id}, column gates, is not valid JSON`));
    archive.close();
    const listed = cliRun('archive', 'list', '--archive', file);
    expect(listed.stderr).toContain(`attempt ${id}, column gates, is not valid JSON`);
    expect(listed.code).toBe(1);
  });

  it('migrates an archive of schema version 1, sealing the rows it had', () => {
    const file = archiveFile();
    const id = seed(file);
    edit(
      file,
      'ALTER TABLE attempts DROP COLUMN row_sha256; ALTER TABLE attempts DROP COLUMN raw_reply; DROP TABLE approvals; ALTER TABLE attempts DROP COLUMN owner; DROP TABLE owners; PRAGMA user_version = 1;',
    );
    const archive = Archive.open(file);
    expect(archive.migratedFrom).toBe(1);
    expect(archive.integrity(id)).toBe('intact');
    expect(archive.get(id)!.status).toBe('applied');
    archive.close();
    const again = Archive.open(file);
    expect(again.migratedFrom).toBeNull();
    again.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });
});

describe('the archive file itself', () => {
  it('is refused, naming the table, when a table every archive has was dropped', () => {
    const file = archiveFile();
    seed(file);
    edit(file, 'DROP TABLE warm_start');
    expect(() => Archive.open(file)).toThrow(`archive ${file} lacks the table warm_start that every archive has`);
  });

  it('ledger verify runs SQLite quick_check first and fails on a damaged index page that reads still get past', () => {
    const file = archiveFile();
    seed(file);
    const db = new Database(file, { readonly: true });
    const { rootpage } = db.prepare<[], { rootpage: number }>("SELECT rootpage FROM sqlite_schema WHERE name = 'attempts_by_parent'").get()!;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    // The cell area at the end of the index's page: its cells now point off the page.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(64, 0x7f), 0, 64, rootpage * pageSize - 64);
    closeSync(fd);

    const archive = Archive.open(file);
    expect(archive.list()).toHaveLength(2);
    expect(archive.ledger.verify().ok).toBe(true);
    expect(archive.fileProblems().join('\n')).toMatch(/page \d+ cell \d+/);
    archive.close();
    const verified = cliRun('ledger', 'verify', '--archive', file);
    expect(verified.stdout).toContain(`archive ${file}: the file is damaged:`);
    expect(verified.stderr).toContain('the archive file is damaged (SQLite quick_check)');
    expect(verified.code).toBe(1);
  });
});
