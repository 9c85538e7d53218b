import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// Loaded first on purpose: sandbox_report.js then sets `ouroboros` on the
// shared default root, which must not reach the archive schema's own root.
import { ouroboros as archiveSchema } from '../dist/ts/generated/archive.js';
import { ouroboros as handoffSchema } from '../dist/ts/generated/handoff.js';
import { ouroboros } from '../dist/ts/generated/sandbox_report.js';

describe('generated protobuf code', () => {
  it('is up to date with proto/*.proto', () => {
    const result = spawnSync(process.execPath, ['scripts/generate-proto.mjs', '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('keeps every schema usable when all are loaded in one process', () => {
    // Each file once replaced a shared root's namespace, breaking the one loaded before it.
    // Nested messages resolve through the root, so encode one that has them.
    const { HandoffMetadata } = handoffSchema.handoff;
    const bytes = HandoffMetadata.encode({ config: { extents: [5, 7] }, stepCount: 42 }).finish();
    const decoded = HandoffMetadata.decode(bytes);
    expect(decoded.config?.extents?.map(Number)).toEqual([5, 7]);
    expect(Number(decoded.stepCount)).toBe(42);
    expect(ouroboros.sandbox.SandboxReport).toBeTypeOf('function');
    expect(archiveSchema.archive).toBeDefined();
  });

  it('round-trips a sandbox report with packed repeated fields', () => {
    const report = {
      schemaVersion: 1,
      slot: 'step',
      seed: 7,
      isolation: [{ name: 'seccomp', active: true, detail: 'kill' }],
      bench: [{ lattice: 'target', extents: [128, 96], steps: 16, candidateNs: [1.5, 2.5], incumbentNs: [3] }],
    };
    const decoded = ouroboros.sandbox.SandboxReport.decode(ouroboros.sandbox.SandboxReport.encode(report).finish());
    expect(decoded.bench[0]!.extents?.map(Number)).toEqual([128, 96]);
    expect(decoded.bench[0]!.candidateNs).toEqual([1.5, 2.5]);
    expect(decoded.isolation[0]!.name).toBe('seccomp');
    expect(Number(decoded.seed)).toBe(7);
  });

  it('round-trips a ledger entry, telling attempt id 0 from no attempt id', () => {
    const { LedgerEntryContent } = archiveSchema.archive;
    const entry = {
      sequence: 3,
      action: 'apply',
      slot: 'step',
      moduleSha256: 'b'.repeat(64),
      previousModuleSha256: 'a'.repeat(64),
      atStep: 4096,
      reason: 'won',
      recordedAt: '2030-01-01T00:00:00.000Z',
      previousHash: 'c'.repeat(64),
    };
    const options = { longs: Number, defaults: false };
    const absent = LedgerEntryContent.encode(LedgerEntryContent.fromObject(entry)).finish();
    const zero = LedgerEntryContent.encode(LedgerEntryContent.fromObject({ ...entry, attemptId: 0 })).finish();
    expect(Buffer.from(zero).equals(Buffer.from(absent))).toBe(false);
    expect(LedgerEntryContent.toObject(LedgerEntryContent.decode(absent), options)).toEqual(entry);
    expect(LedgerEntryContent.toObject(LedgerEntryContent.decode(zero), options)).toEqual({ ...entry, attemptId: 0 });
  });
});
