import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = path.resolve('bin/ouroboros.js');

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('ouroboros simulate', () => {
  it('prints one JSON object with steps, MLUPS, drift and the readout histogram', () => {
    const { code, stdout, stderr } = run('simulate', '--extents', '24,20', '--steps', '300', '--init', 'random', '--json');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.steps).toBe(300);
    expect(summary.cells).toBe(480);
    expect(summary.mlups).toBeGreaterThan(0);
    expect(summary.energyDrift).toBeLessThanOrEqual(1e-12);
    expect(summary.maxEnergyDrift).toBeLessThanOrEqual(1e-12);
    const histogram = Object.values(summary.readoutHistogram as Record<string, number>);
    expect(histogram).toHaveLength(9);
    expect(histogram.reduce((a, b) => a + b, 0)).toBe(480);
  });

  it('prints a readable report by default, f32 and standing waves included', () => {
    const { code, stdout } = run('simulate', '--extents', '16,16,16', '--steps', '50', '--init', 'standing', '--precision', 'f32', '--dt', '0.5');
    expect(code).toBe(0);
    expect(stdout).toMatch(/16 x 16 x 16 f32/);
    expect(stdout).toMatch(/throughput +[\d.]+ MLUPS/);
    expect(stdout).toMatch(/readout histogram/);
  });

  it('rejects bad input with a message naming the parameter and exits non-zero', () => {
    const tooFew = run('simulate', '--extents', '24,2', '--steps', '10');
    expect(tooFew.code).toBe(2);
    expect(tooFew.stderr).toBe('ouroboros: --extents[1] = 2: each extent must be an integer >= 3\n');
    const unstable = run('simulate', '--extents', '24,24', '--dt', '0.8');
    expect(unstable.code).toBe(1);
    expect(unstable.stderr).toMatch(/Courant number c\*dt\/h = 0.8 must be < 1\/sqrt\(2\)/);
    const badInit = run('simulate', '--init', 'square');
    expect(badInit.code).toBe(2);
    expect(badInit.stderr).toMatch(/--init <kind>' argument 'square' is invalid/);
    const badSteps = run('simulate', '--steps', 'many');
    expect(badSteps.code).toBe(2);
    expect(badSteps.stderr).toMatch(/"many" is not a number/);
    const negative = run('simulate', '--steps', '-5');
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/^ouroboros: --steps = -5: must be an integer in \[0,/);
  });
});

describe('ouroboros bench kernels', () => {
  it('--quick --json writes and prints the report with every section', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-bench-')), 'kernels.json');
    const { code, stdout } = run('bench', 'kernels', '--quick', '--json', '--out', out);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    expect(report.streamTriadGBs).toBeGreaterThan(0);
    expect(report.rooflineMlups).toBeCloseTo((report.streamTriadGBs * 1e9) / 24 / 1e6, 6);
    const names = report.rows.map((row: { name: string }) => row.name);
    expect(names).toEqual(['reference (native, public API)', 'typescript typed-array peer']);
    for (const row of report.rows) {
      expect(row.mlups).toBeGreaterThan(0);
      expect(row).toMatchObject({ extents: [64, 64], precision: 'f64' });
    }
    expect(report.napiStepCall.callUs).toBeGreaterThan(0);
    expect(report.energyDrift.map((row: { dimensions: number }) => row.dimensions)).toEqual([1, 2, 3, 9, 2]);
    for (const row of report.energyDrift) expect(row.energyDrift).toBeLessThan(row.precision === 'f64' ? 1e-12 : 1e-5);
  });

  it('refuses an unknown suite', () => {
    const { code, stderr } = run('bench', 'warp-drive');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ouroboros: bench suite "warp-drive" is unknown; available: kernels/);
  });
});
