import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = path.resolve('bin/ouroboros.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('ouroboros check', () => {
  it('prints every gate of an accepted candidate as JSON and exits 0', () => {
    const result = run('check', 'tests/fixtures/variants/reference-copy.cpp', '--json');
    expect(result.status).toBe(0);
    const verdict = JSON.parse(result.stdout);
    expect(verdict.accepted).toBe(true);
    expect(verdict.gates.map((g: { gate: string }) => g.gate)).toEqual(['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench']);
  });

  it('prints the failing gate of a rejected candidate and exits 1 with one error line', () => {
    const result = run('check', 'tests/fixtures/hostile/forge-report.cpp');
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('FAIL  symbols');
    expect(result.stderr.trim()).toBe(
      'ouroboros: tests/fixtures/hostile/forge-report.cpp was rejected by the symbols gate: imports symbols outside the allowlist: puts',
    );
  });

  it('checks the readout slot', () => {
    const result = run('check', 'tests/fixtures/variants/reference-copy.cpp', '--slot', 'readout');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('accepted');
  });
});
