// The archive on a real full disk: a 512 KiB tmpfs in a private mount
// namespace (unshare), filled by a file before the engine starts or once it
// runs. The engine says which file failed and why, loses nothing it had
// recorded, and the archive passes SQLite's check and the ledger's once
// space is freed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeOnSmallDisk } from './helpers/small-disk.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-disk-full-test-'));
const source = readFileSync(path.resolve('tests/fixtures/variants/reference-copy.cpp'), 'utf8');

afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Outcome {
  startError: string | null;
  attemptError: string | null;
  storageFailure: string | null;
  fileProblems: string[];
  ledgerOk: boolean;
  statuses: string[];
}

function onFullDisk(mode: 'at-start' | 'while-running' | 'mid-attempt' | 'mid-attempt-freed'): Outcome {
  const dir = mkdtempSync(path.join(root, `${mode}-`));
  const result = nodeOnSmallDisk(dir, '512k', [path.resolve('tests/fixtures/archive/engine-on-full-disk.mjs'), dir, mode, source], { timeoutMs: 120_000 });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Outcome;
}

describe('the archive on a full disk', () => {
  it('keeps the engine from starting, with a sentence naming the file and SQLITE_FULL', () => {
    const outcome = onFullDisk('at-start');
    expect(outcome.startError).toMatch(/^archive \/.*\/archive\.sqlite: a write failed \(SQLITE_FULL: database or disk is full\); the engine could not start$/);
    expect(outcome.fileProblems).toEqual([]);
    expect(outcome.ledgerOk).toBe(true);
  });

  it('stops the engine when it fills during the run, refusing the attempt with the same sentence, and loses nothing', () => {
    const outcome = onFullDisk('while-running');
    const sentence = /^archive \/.*\/archive\.sqlite: a write failed \(SQLITE_FULL: database or disk is full\); the engine stopped starting attempts$/;
    expect(outcome.storageFailure).toMatch(sentence);
    expect(outcome.attemptError).toBe(outcome.storageFailure);
    // The two roots (the reference step and readout kernels) written at start are still there, whole.
    expect(outcome.statuses).toEqual(['applied', 'applied']);
    expect(outcome.fileProblems).toEqual([]);
    expect(outcome.ledgerOk).toBe(true);
  });

  it('names the attempt whose outcome could not be written, left pending for the next run to close', () => {
    const outcome = onFullDisk('mid-attempt');
    expect(outcome.storageFailure).toMatch(
      /^archive \/.*\/archive\.sqlite: a write failed \(SQLITE_FULL: database or disk is full\); the engine stopped starting attempts; attempt 3 could not be closed and stays pending: the next run on this archive closes it as interrupted$/,
    );
    expect(outcome.statuses).toEqual(['applied', 'applied', 'pending']);
    expect(outcome.fileProblems).toEqual([]);
    expect(outcome.ledgerOk).toBe(true);
  });

  it('closes that attempt as interrupted itself when the disk has room again by its stop', () => {
    const outcome = onFullDisk('mid-attempt-freed');
    expect(outcome.storageFailure).toMatch(/; the engine stopped starting attempts$/);
    expect(outcome.statuses).toEqual(['applied', 'applied', 'interrupted']);
    expect(outcome.fileProblems).toEqual([]);
    expect(outcome.ledgerOk).toBe(true);
  });
});
