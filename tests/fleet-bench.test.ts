/**
 * `bench fleet --quick` end to end (against the build: its engine and
 * workers are child processes of dist/): every row evaluated remotely,
 * workers killed with SIGKILL mid-job without a job lost or recorded
 * twice, and the shared improvement adopted while its tampered copy is
 * refused. Its rates are printed by the bench, never asserted here.
 */
import { describe, expect, it } from 'vitest';
import { benchFleet } from '../dist/ts/bench/fleet.js';

describe('bench fleet --quick', () => {
  it('loses no job and records none twice with workers killed mid-job, and refuses the tampered share', { timeout: 300_000 }, async () => {
    const report = await benchFleet({ quick: true, onProgress: () => undefined });
    expect(report.rows.map((row) => [row.workers, row.remote, row.local])).toEqual([
      [1, 6, 0],
      [2, 6, 0],
    ]);
    expect(report.killedWorkers).toBe(2);
    expect(report.jobsLost).toBe(0);
    expect(report.duplicateRecords).toBe(0);
    expect(report.sharedAdopted).toBe(1);
    expect(report.sharedRefused).toBe(1);
    expect(report.refusalReasons[0]).toMatch(/^hash: /);
    expect(report.engineEvaluationCpuShare).toBeGreaterThanOrEqual(0);
    expect(report.engineEvaluationCpuShare).toBeLessThanOrEqual(1);
  });
});
