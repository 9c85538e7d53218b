import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ouroboros } from '../dist/ts/generated/sandbox_report.js';

describe('generated protobuf code', () => {
  it('is up to date with proto/*.proto', () => {
    const result = spawnSync(process.execPath, ['scripts/generate-proto.mjs', '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
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
    expect(decoded.bench[0]!.extents.map(Number)).toEqual([128, 96]);
    expect(decoded.bench[0]!.candidateNs).toEqual([1.5, 2.5]);
    expect(decoded.isolation[0]!.name).toBe('seccomp');
    expect(Number(decoded.seed)).toBe(7);
  });
});
